"""An HTTP receiver for the tests of outbound calls (webhooks, hooks): Python's
http.server on a free port.

Every POST is recorded, when it arrives, as one JSON line in --out:
{"n": 1, "path": "/hook", "content_type": "...", "status": 200, "body": "..."}.
The first --fail-first requests are answered --fail-status with no body, the
rest --status with --body (JSON; none when empty); the first --delay-first
requests (all when 0) wait --delay seconds first.
The port is written to --port-file (atomically) once the server listens.
"""
import argparse
import http.server
import json
import os
import socketserver
import threading
import time

lock = threading.Lock()
seen = 0
args = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *unused):
        pass

    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            seen += 1
            n = seen
            status = args.fail_status if n <= args.fail_first else args.status
            record = {"n": n, "path": self.path,
                      "content_type": self.headers.get("Content-Type", ""),
                      "status": status, "body": body.decode("utf-8", "replace")}
            with open(args.out, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if args.delay > 0 and (args.delay_first == 0 or n <= args.delay_first):
            time.sleep(args.delay)
        answer = b"" if n <= args.fail_first else args.body.encode("utf-8")
        try:
            self.send_response(status)
            if answer:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            pass  # the client gave up (timeout or shutdown)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up are part of the tests


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--body", default="")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--delay-first", type=int, default=0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
