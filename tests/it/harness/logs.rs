//! Log capture: what an operator would read, for the tests that check what is (and is not)
//! logged.

thread_local! {
    /// The log capture of the test running on this thread, if it captures.
    static CAPTURE: std::cell::RefCell<Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Captures the log output (text format, as operators see it, debug and above) of everything
/// that runs on this thread while the capture lives: the whole test, app and fake included, on
/// the single-threaded runtime of `#[tokio::test]`.
///
/// One subscriber for the process, installed once, that records an event only on a thread with
/// a capture: the other tests of this binary run on other threads, stay out of the capture and
/// pay one check per event. (Not `tracing::subscriber::set_default`: with one scoped dispatcher
/// and no global one, a callsite that another thread reaches first is cached as "never" for
/// every thread, and the capture misses it.)
pub fn capture_logs() -> Capture {
    use tracing_subscriber::filter::{DynFilterFn, LevelFilter};
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let capturing = DynFilterFn::new(|meta, _| {
            *meta.level() <= tracing::Level::DEBUG && CAPTURE.with(|c| c.borrow().is_some())
        })
        .with_max_level_hint(LevelFilter::DEBUG);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Writer)
            .with_filter(capturing);
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("no other global subscriber in the test binary");
    });
    let buf = std::sync::Arc::default();
    CAPTURE.with(|c| *c.borrow_mut() = Some(std::sync::Arc::clone(&buf)));
    Capture(buf)
}

pub struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURE.with(|c| *c.borrow_mut() = None);
    }
}

/// Appends to this thread's capture.
struct Writer;

impl std::io::Write for Writer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(buf) = c.borrow().as_ref() {
                buf.lock().unwrap().extend_from_slice(data);
            }
        });
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
