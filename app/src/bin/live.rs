//! The live room's bundle (Trunk: `app/live.html`), served for a session page while its
//! session is live and for the embedded room.

fn main() {
    app::start(app::LiveApp);
}
