//! `fetch` against a real HTTP server on loopback that serves the shared data folder.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use common::{data_dir, scratch};
use nasr_data::{DataError, DatasetName, fetch::fetch};

/// Serves files from `root` over HTTP/1.1 on 127.0.0.1 for `requests` requests, flipping one
/// byte in the middle of `tamper` when it is requested. Returns the base URL.
fn serve(root: PathBuf, requests: usize, tamper: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut request_line).unwrap();
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            match std::fs::read(root.join(path)) {
                Ok(mut body) => {
                    if tamper.is_some_and(|t| path.ends_with(t)) {
                        let middle = body.len() / 2;
                        body[middle] ^= 0x01;
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    stream.write_all(head.as_bytes()).unwrap();
                    stream.write_all(&body).unwrap();
                }
                Err(_) => {
                    stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .unwrap();
                }
            }
        }
    });
    url
}

#[test]
fn good_download_is_verified_written_and_readable() {
    let url = serve(data_dir(), 4, None);
    let dir = scratch("fetch-good");
    let mut calls = 0;
    let written = fetch(
        DatasetName::Mnist,
        &dir,
        Some(&format!("{url}/mnist")),
        &mut |_, _, _| calls += 1,
    )
    .unwrap();
    assert_eq!(written.len(), 4);
    assert!(calls >= 4);
    let data = nasr_data::load(DatasetName::Mnist, &dir).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    // Nothing left half-written.
    let names: Vec<String> = std::fs::read_dir(dir.join("mnist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}

#[test]
fn tampered_file_is_rejected_and_nothing_is_written() {
    let url = serve(data_dir(), 4, Some("train-labels-idx1-ubyte.gz"));
    let dir = scratch("fetch-tampered");
    let err = fetch(
        DatasetName::Mnist,
        &dir,
        Some(&format!("{url}/mnist")),
        &mut |_, _, _| {},
    )
    .unwrap_err();
    match &err {
        DataError::Checksum { file, .. } => {
            assert!(file.ends_with("train-labels-idx1-ubyte.gz"), "{file}")
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(
        !dir.join("mnist").exists(),
        "a rejected download must write nothing"
    );
}

#[test]
fn missing_file_on_the_mirror_is_a_clear_download_error() {
    let url = serve(data_dir(), 1, None);
    let dir = scratch("fetch-missing");
    let err = fetch(
        DatasetName::FashionMnist,
        &dir,
        Some(&format!("{url}/nowhere")),
        &mut |_, _, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("nowhere/train-images-idx3-ubyte.gz"),
        "{err}"
    );
    assert!(!dir.join("fashion-mnist").exists());
}
