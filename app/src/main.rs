//! The shoppers' bundle (Trunk: `app/index.html`).

fn main() {
    app::start(app::ShopApp);
}
