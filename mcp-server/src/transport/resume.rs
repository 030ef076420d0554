//! Resumable session streams (2025-11-25, TR-32, TR-36): every message for a session's GET
//! stream goes into its [`Outbox`] with an id (1, 2, ... unique within the session), the
//! last `limits.event_buffer` of them kept. A stream is a reader with a cursor over that
//! buffer: a client that lost its stream opens GET again with `Last-Event-ID` and gets what
//! followed, exactly once. A resume from before the buffer gets 410 Gone (the events are lost;
//! the client opens a fresh stream and refetches). Only the newest GET reads: opening one ends
//! the previous one, so no message goes on two streams.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{Stream, stream};
use tokio::sync::watch;

/// The messages of one session's GET stream, with ids.
#[derive(Debug)]
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    /// Ticks on every push and every new reader.
    tick: watch::Sender<()>,
    cap: usize,
}

#[derive(Debug)]
struct Inner {
    /// The id the next message gets.
    next: u64,
    /// The newest messages, ids contiguous, oldest first.
    buf: VecDeque<(u64, Arc<str>)>,
    /// Bumped when a stream opens: older readers end.
    generation: u64,
}

/// Why a stream could not resume.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResumeError {
    /// `Last-Event-ID` names an event this session never sent.
    Unknown,
    /// The events after `Last-Event-ID` are no longer buffered.
    Gone,
}

impl Outbox {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                next: 1,
                buf: VecDeque::new(),
                generation: 0,
            }),
            tick: watch::channel(()).0,
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a message (the oldest goes when the buffer is full).
    pub(crate) fn push(&self, msg: impl Into<Arc<str>>) {
        {
            let mut g = self.lock();
            let id = g.next;
            g.next += 1;
            g.buf.push_back((id, msg.into()));
            if g.buf.len() > self.cap {
                g.buf.pop_front();
            }
        }
        self.tick.send_replace(());
    }

    /// A reader for a new stream: after `last` (`Last-Event-ID`), or from now on. Ends the
    /// previous reader.
    pub(crate) fn attach(self: &Arc<Self>, last: Option<u64>) -> Result<Reader, ResumeError> {
        let reader = {
            let mut g = self.lock();
            let newest = g.next - 1;
            let cursor = match last {
                None => newest,
                Some(n) if n > newest => return Err(ResumeError::Unknown),
                Some(n) => {
                    let oldest = g.buf.front().map_or(g.next, |e| e.0);
                    if n + 1 < oldest {
                        return Err(ResumeError::Gone);
                    }
                    n
                }
            };
            g.generation += 1;
            Reader {
                outbox: self.clone(),
                cursor,
                generation: g.generation,
                tick: self.tick.subscribe(),
            }
        };
        self.tick.send_replace(());
        Ok(reader)
    }
}

/// One stream's position in the [`Outbox`].
#[derive(Debug)]
pub(crate) struct Reader {
    outbox: Arc<Outbox>,
    cursor: u64,
    generation: u64,
    tick: watch::Receiver<()>,
}

impl Reader {
    /// The id of the last message this reader has passed (the priming event's id).
    pub(crate) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next message, waiting for one; `None` when a newer stream took over or this one
    /// fell behind the buffer (the client's resume then gets 410).
    pub(crate) async fn next(&mut self) -> Option<(u64, Arc<str>)> {
        loop {
            {
                let g = self.outbox.lock();
                if g.generation != self.generation {
                    return None;
                }
                let want = self.cursor + 1;
                if let Some(&(front, _)) = g.buf.front() {
                    if front > want {
                        return None;
                    }
                    let idx = usize::try_from(want - front).ok()?;
                    if let Some((id, m)) = g.buf.get(idx) {
                        self.cursor = *id;
                        return Some((*id, m.clone()));
                    }
                }
            }
            self.tick.changed().await.ok()?;
        }
    }

    /// The SSE frames: a priming event (the cursor as id, `retry`, an empty `data` field),
    /// then every message with its id. Written by hand: axum's `Event` leaves out an empty
    /// `data` field, which the priming event needs (TR-32). Messages are compact JSON, one
    /// line each.
    pub(crate) fn into_frames(self, retry: Duration) -> impl Stream<Item = Bytes> + Send {
        let priming = Bytes::from(format!(
            "id: {}\nretry: {}\ndata: \n\n",
            self.cursor(),
            retry.as_millis()
        ));
        let rest = stream::unfold(self, |mut r| async move {
            let (id, m) = r.next().await?;
            let frame = format!(
                "event: message\nid: {id}\ndata: {}\n\n",
                m.replace('\n', " ")
            );
            Some((Bytes::from(frame), r))
        });
        futures_util::StreamExt::chain(stream::iter([priming]), rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_resumed_reader_gets_what_followed_exactly_once_tr36() {
        let ob = Arc::new(Outbox::new(3));
        let mut first = ob.attach(None).unwrap();
        ob.push("a");
        ob.push("b");
        assert_eq!(first.next().await.unwrap().0, 1);
        // The stream drops after event 1 (event 2 was sent into the void): resume after 1.
        let mut second = ob.attach(Some(1)).unwrap();
        assert!(
            first.next().await.is_none(),
            "a newer stream ends the old one"
        );
        assert_eq!(&*second.next().await.unwrap().1, "b");
        ob.push("c");
        assert_eq!(second.next().await.unwrap(), (3, Arc::from("c")));
        // Unknown ids and ids before the buffer are refused.
        assert_eq!(ob.attach(Some(9)).unwrap_err(), ResumeError::Unknown);
        ob.push("d");
        ob.push("e");
        assert_eq!(ob.attach(Some(1)).unwrap_err(), ResumeError::Gone);
        let mut third = ob.attach(Some(2)).unwrap();
        assert_eq!(third.next().await.unwrap().0, 3);
        // A fresh stream starts after the newest.
        assert_eq!(ob.attach(None).unwrap().cursor(), 5);
    }

    #[tokio::test]
    async fn a_reader_that_falls_behind_the_buffer_ends() {
        let ob = Arc::new(Outbox::new(2));
        let mut r = ob.attach(None).unwrap();
        for m in ["a", "b", "c"] {
            ob.push(m);
        }
        assert!(r.next().await.is_none());
    }
}
