//! A stand-in for WeChat's `jscode2session` on loopback, so the login journey measures our
//! server and not the internet: every code `c` is answered with the openid `load-c`.
//! Started by run.sh before the server (`huigong-load mock-wechat --port P`).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = answer(socket).await;
        });
    }
}

/// Answers every request on one keep-alive connection (GETs: no bodies to skip).
async fn answer(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Ok(());
        }
        let n = socket.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        while let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let code = head
                .split_whitespace()
                .nth(1)
                .and_then(|target| target.split_once('?'))
                .and_then(|(_, query)| {
                    query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("js_code="))
                })
                .unwrap_or("none")
                .to_owned();
            let body =
                format!(r#"{{"openid":"load-{code}","session_key":"bG9hZC10ZXN0LWtleQ=="}}"#);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await?;
            buf.copy_within(end + 4..filled, 0);
            filled -= end + 4;
        }
    }
}
