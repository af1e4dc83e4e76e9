"""A webhook receiver for tests: records each POST body as one line in OUT_FILE,
answers `fail_first` requests with 500 (then 200), or every request with
`status`, optionally after `delay` seconds.
Usage: webhook_receiver.py PORT_FILE OUT_FILE [fail_first] [status] [delay]"""
import http.server
import socketserver
import sys
import threading
import time

lock = threading.Lock()
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(DELAY)
        with lock:
            seen += 1
            n = seen
            status = 500 if n <= FAIL_FIRST else STATUS
            if status == 200:
                with open(OUT, "ab") as f:
                    f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    OUT = sys.argv[2]
    FAIL_FIRST = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    STATUS = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    DELAY = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()
