//! The connections edge forwards requests on: TCP, as hyper's connector opens them, except that
//! a service's early answer survives. A service may answer before it has read the whole request
//! (a path it does not have, a refusal) and close; the closed socket then fails edge's next write
//! of the body. Hyper gives up on the request at that failure, before reading the answer that
//! is already waiting in the socket, and edge would answer 503 instead of relaying it. Here,
//! writes to a peer that has gone are taken and dropped instead: hyper goes on to read the
//! answer, and a peer that left without one is still an error, when the read finds it closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// [`HttpConnector`], its connections wrapped in [`Relaying`].
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub(crate) http: HttpConnector,
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Relaying>;
    type Error = <HttpConnector as tower::Service<Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.http.call(uri);
        Box::pin(async move {
            let stream = connecting.await?.into_inner();
            Ok(TokioIo::new(Relaying {
                stream,
                peer_gone: false,
            }))
        })
    }
}

/// A connection to a service whose writes, once the service has closed its end, are dropped
/// (see the module's comment).
#[derive(Debug)]
pub(crate) struct Relaying {
    stream: TcpStream,
    /// A write found the service gone: writes from now on go nowhere.
    peer_gone: bool,
}

impl Relaying {
    /// `written` unless it failed because the service closed its end: then everything is taken.
    fn taken(&mut self, written: Poll<io::Result<usize>>, len: usize) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Err(err)) if gone(&err) => {
                tracing::debug!(error = %err, "the service closed its end; the rest of the request is dropped");
                self.peer_gone = true;
                Poll::Ready(Ok(len))
            }
            other => other,
        }
    }
}

/// Whether `err` says the peer closed the connection.
fn gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

impl Connection for Relaying {
    fn connected(&self) -> Connected {
        self.stream.connected()
    }
}

impl AsyncRead for Relaying {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Relaying {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.peer_gone {
            return Poll::Ready(Ok(buf.len()));
        }
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.taken(written, buf.len())
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|buf| buf.len()).sum();
        if self.peer_gone {
            return Poll::Ready(Ok(len));
        }
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.taken(written, len)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_gone {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_shutdown(cx) {
            Poll::Ready(Err(err)) if gone(&err) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A service that answers before reading the request and closes with the rest unread: its
    /// socket resets, and writes to it fail. The answer is still read, and the writes taken.
    #[tokio::test]
    async fn an_answer_sent_before_the_body_was_read_is_still_read() -> io::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut relaying = Relaying {
            stream: TcpStream::connect(listener.local_addr()?).await?,
            peer_gone: false,
        };
        let (mut service, _) = listener.accept().await?;
        relaying.write_all(&[b'a'; 64 * 1024]).await?;
        let answer = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        service.write_all(answer).await?;
        // Closed with the body unread: the kernel resets the connection.
        drop(service);

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !relaying.peer_gone {
            assert!(tokio::time::Instant::now() < deadline, "no write failed");
            relaying.write_all(&[b'a'; 64 * 1024]).await?;
            tokio::task::yield_now().await;
        }
        relaying.write_all(b"more body").await?;
        relaying.flush().await?;
        let mut read = vec![0; answer.len()];
        relaying.read_exact(&mut read).await?;
        assert_eq!(read, answer);
        Ok(())
    }
}
