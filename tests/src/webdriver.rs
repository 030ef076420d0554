//! A minimal W3C WebDriver client over reqwest, enough to drive headless Chromium through the
//! consent page: open a URL, find an element, click, run a script, read the URL and the page.
//!
//! Hand-written instead of `fantoccini`/`thirtyfour`: six JSON endpoints are all the consent
//! tests need, and those crates bring their own HTTP/TLS stacks into the workspace.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian puts Chromium and its driver (`apt-get install chromium chromium-driver`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver binary.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver with one browser session; both end on drop.
#[derive(Debug)]
pub struct Browser {
    driver: tokio::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session.
    pub async fn start() -> Result<Self, String> {
        if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists()
        {
            return Err(format!(
                "{CHROMIUM} and {CHROMEDRIVER} are required: apt-get install chromium chromium-driver \
                 (scripts/install-test-deps.sh does it)"
            ));
        }
        // chromedriver needs a port number; take a free one from the kernel.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start chromedriver: {e}"))?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !ready {
            return Err("chromedriver did not become ready".into());
        }
        let profile = std::env::temp_dir().join(format!("chromium-{}", shared::random::token()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let res = json_of(http.post(format!("{base}/session")).json(&caps)).await?;
        let session = res["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session: {res}"))?
            .to_owned();
        Ok(Self {
            driver,
            base,
            session,
            http,
            profile,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v = json_of(req).await?;
        if v["value"].get("error").is_some() {
            return Err(v["value"].to_string());
        }
        Ok(v["value"].clone())
    }

    /// Navigates and waits for the load.
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await
            .map(|_| ())
    }

    /// Clicks the element matching a CSS selector.
    pub async fn click(&self, css: &str) -> Result<(), String> {
        let el = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        let id = el[ELEMENT_KEY].as_str().ok_or("no element id")?.to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    /// Runs JavaScript in the page.
    pub async fn execute(&self, script: &str) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The current URL.
    pub async fn url(&self) -> Result<String, String> {
        Ok(self
            .call(reqwest::Method::GET, "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Waits until the page's text contains `needle` (clicks return before navigation ends).
    pub async fn wait_for_text(&self, needle: &str) -> Result<String, String> {
        let mut last = String::new();
        for _ in 0..100 {
            last = self.text().await.unwrap_or_default();
            if last.contains(needle) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("page never showed {needle:?}; last text: {last}"))
    }

    /// The page's visible text.
    pub async fn text(&self) -> Result<String, String> {
        Ok(self
            .execute("return document.body ? document.body.innerText : ''")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
        // Chromium outlives a killed chromedriver: end every process of this session's
        // private profile (its path is unique to this browser).
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(self.profile.as_os_str())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Sends a WebDriver request and parses its JSON answer.
async fn json_of(req: reqwest::RequestBuilder) -> Result<Value, String> {
    let res = req.send().await.map_err(|e| e.to_string())?;
    res.json().await.map_err(|e| e.to_string())
}
