//! A read that gives up when its source stalls: an import's file comes from the JetStream object
//! store, whose reader waits without end while NATS is away. Bounded, the job ends with an
//! error, is let go where it stands, and runs again from there once NATS is back.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, failing a read with [`io::ErrorKind::TimedOut`] once it has been waited on for
/// `limit` without giving anything. The clock runs from the read's first poll: the time between
/// reads (the import waiting for the sink, for its acks) is no stall.
#[derive(Debug)]
pub(crate) struct StallLimit<R> {
    inner: R,
    limit: Duration,
    deadline: Pin<Box<Sleep>>,
    /// Whether a read is waiting on `inner` (since `deadline` was set).
    waiting: bool,
}

impl<R> StallLimit<R> {
    pub(crate) fn new(inner: R, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
            waiting: false,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for StallLimit<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.waiting {
            this.deadline.as_mut().reset(Instant::now() + this.limit);
            this.waiting = true;
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(read) => {
                this.waiting = false;
                Poll::Ready(read)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the file gave nothing for {} s", this.limit.as_secs()),
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test(start_paused = true)]
    async fn a_source_that_gives_nothing_fails_the_read_after_the_limit() {
        let (_writer, reader) = tokio::io::duplex(64);
        let mut read = StallLimit::new(reader, Duration::from_secs(30));
        let mut buf = [0_u8; 8];
        let err = read.read(&mut buf).await.expect_err("a stalled read fails");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn time_the_reader_spends_elsewhere_is_no_stall() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let mut read = StallLimit::new(reader, Duration::from_secs(30));
        tokio::io::AsyncWriteExt::write_all(&mut writer, b"ab")
            .await
            .expect("writes");
        let mut buf = [0_u8; 2];
        read.read_exact(&mut buf).await.expect("reads");
        let writing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(70)).await;
            tokio::io::AsyncWriteExt::write_all(&mut writer, b"cd")
                .await
                .expect("writes");
        });
        // The reader is busy for a minute, then waits 10 s for what comes next.
        tokio::time::sleep(Duration::from_secs(60)).await;
        read.read_exact(&mut buf).await.expect("no stall");
        assert_eq!(&buf, b"cd");
        writing.await.expect("the writer ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_that_keeps_giving_is_read_to_its_end() {
        let (mut writer, reader) = tokio::io::duplex(64);
        let writing = tokio::spawn(async move {
            for _ in 0..5 {
                // Each piece within the limit, all of them together well past it.
                tokio::time::sleep(Duration::from_secs(20)).await;
                tokio::io::AsyncWriteExt::write_all(&mut writer, b"ab")
                    .await
                    .expect("writes");
            }
        });
        let mut read = StallLimit::new(reader, Duration::from_secs(30));
        let mut all = Vec::new();
        read.read_to_end(&mut all).await.expect("reads to the end");
        assert_eq!(all, b"ababababab");
        writing.await.expect("the writer ends");
    }
}
