"""A model server that follows the SageMaker container contract (GET /ping,
POST /invocations with text/csv rows -> {"predictions": [...]}) and answers every
invocation after a fixed delay: the slow canary of the latency tests.
Usage: slow_model_server.py PORT_FILE DELAY_SECONDS  (binds port 0, writes the port)"""
import http.server
import json
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer(200 if self.path == "/ping" else 404, {"status": "ok"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        rows = [r for r in self.rfile.read(length).decode().splitlines() if r.strip()]
        time.sleep(Handler.delay)
        self._answer(200, {"predictions": [0.5] * max(1, len(rows))})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Handler.delay = float(sys.argv[2])
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()
