//! What the user sees during an interactive login: the authorization URL, and a spinner on
//! a terminal while the loopback listener waits. The library reports these as
//! [`LoginEvent`]s; printing them is the CLI's job.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use http_oauth2_client::oauth::login::LoginEvent;

/// A login-event callback that prints to stderr.
pub(crate) fn printer() -> impl Fn(&LoginEvent<'_>) + Send + Sync + 'static {
    let spinner: Mutex<Option<tokio::task::JoinHandle<()>>> = Mutex::new(None);
    move |event| match event {
        LoginEvent::OpenUrl {
            url,
            browser_opened,
        } => eprintln!(
            "{} this URL to authorize http-oauth2-client:\n\n  {url}\n",
            if *browser_opened {
                "Your browser was opened; if not, open"
            } else {
                "Open"
            }
        ),
        LoginEvent::Waiting { .. } if std::io::stderr().is_terminal() => {
            if let Ok(mut s) = spinner.lock() {
                *s = Some(tokio::spawn(spin()));
            }
        }
        LoginEvent::WaitEnded => {
            if let Some(task) = spinner.lock().ok().and_then(|mut s| s.take()) {
                task.abort();
                eprint!("\r");
                let _ = std::io::stderr().flush();
            }
        }
        _ => {}
    }
}

async fn spin() {
    let frames = ['|', '/', '-', '\\'];
    for i in 0usize.. {
        eprint!("\r{} waiting for the browser...", frames[i % frames.len()]);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
