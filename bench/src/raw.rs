//! A lean HTTP/1.1 client for the page-load phases: one keep-alive TCP connection per loader,
//! the request's bytes built once, and each response read just far enough to know its status
//! and that it arrived whole (`Content-Length` or chunked). reqwest needed more CPU per request
//! than the server did on the cheapest pages, and the benchmark shares the server's two cores:
//! the client must not be what is measured.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// A response head longer than this is refused (the server's are a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;

pub struct RawConnection {
    address: String,
    request: Vec<u8>,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl RawConnection {
    /// A connection that sends `GET url` with these cookies (`name=value; …`), again and again.
    pub fn new(url: &Url, cookies: Option<&str>) -> Result<RawConnection, String> {
        let host = url.host_str().ok_or_else(|| format!("{url} has no host"))?;
        let port = url.port_or_known_default().ok_or_else(|| format!("{url} has no port"))?;
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let cookie = cookies.map(|cookies| format!("Cookie: {cookies}\r\n")).unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n{cookie}\r\n").into_bytes();
        Ok(RawConnection {
            address: format!("{host}:{port}"),
            request,
            stream: None,
            buffer: Vec::with_capacity(READ_CHUNK),
        })
    }

    /// Sends the request and reads the whole response; its status.
    pub async fn get(&mut self) -> Result<u16, String> {
        match self.exchange().await {
            Ok(status) => Ok(status),
            Err(error) => {
                // Start the next request on a fresh connection.
                self.stream = None;
                Err(format!("{}: {error}", self.address))
            }
        }
    }

    async fn exchange(&mut self) -> io::Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().ok_or_else(|| io::Error::other("no connection"))?;
        stream.write_all(&self.request).await?;
        self.buffer.clear();
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(io::Error::other("the response head is too long"));
            }
            read_more(stream, &mut self.buffer).await?;
        };
        let head =
            std::str::from_utf8(&self.buffer[..head_end]).map_err(|_| io::Error::other("the head is not text"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| io::Error::other("no status line"))?;
        let header = |name: &str| {
            head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_ascii_lowercase())
            })
        };
        let close = header("connection").is_some_and(|value| value == "close");
        if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
            read_chunked(stream, &mut self.buffer, head_end).await?;
        } else {
            let length: usize = header("content-length").and_then(|value| value.parse().ok()).unwrap_or(0);
            while self.buffer.len() < head_end + length {
                read_more(stream, &mut self.buffer).await?;
            }
        }
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}

/// Reads a chunked body that starts at `at` in `buffer`, to its end.
async fn read_chunked(stream: &mut TcpStream, buffer: &mut Vec<u8>, mut at: usize) -> io::Result<()> {
    loop {
        let line_end = loop {
            if let Some(end) = find(&buffer[at..], b"\r\n") {
                break at + end;
            }
            read_more(stream, buffer).await?;
        };
        let size_text = std::str::from_utf8(&buffer[at..line_end]).map_err(|_| io::Error::other("bad chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| io::Error::other("bad chunk size"))?;
        // The chunk and its CRLF; the last chunk (size 0) is followed by an empty trailer line.
        let chunk_end = line_end + 2 + size + 2;
        while buffer.len() < chunk_end {
            read_more(stream, buffer).await?;
        }
        if size == 0 {
            return Ok(());
        }
        at = chunk_end;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<()> {
    let start = buffer.len();
    buffer.resize(start + READ_CHUNK, 0);
    let read = stream.read(&mut buffer[start..]).await;
    match read {
        Ok(0) => {
            buffer.truncate(start);
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"))
        }
        Ok(n) => {
            buffer.truncate(start + n);
            Ok(())
        }
        Err(error) => {
            buffer.truncate(start);
            Err(error)
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::RawConnection;

    /// A server that answers each request on one connection with the next of `answers`.
    async fn serve(answers: Vec<&'static str>) -> url::Url {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let url =
            url::Url::parse(&format!("http://{}/page", listener.local_addr().expect("an address"))).expect("a URL");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("a connection");
            for answer in answers {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                socket.write_all(answer.as_bytes()).await.expect("written");
            }
        });
        url
    }

    #[tokio::test]
    async fn responses_are_read_whole_by_length_or_in_chunks_on_one_connection() {
        let url = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let mut connection = RawConnection::new(&url, Some("a=b")).expect("a connection");

        assert_eq!(connection.get().await, Ok(200));
        assert_eq!(connection.get().await, Ok(200));
        assert_eq!(connection.get().await, Ok(404), "the third answer, so each before was read whole");
    }
}
