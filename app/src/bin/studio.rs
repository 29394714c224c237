//! The hosts' studio bundle (Trunk: `app/studio.html`), served for `/studio` and below.

fn main() {
    app::start(app::StudioApp);
}
