"""A loopback HTTP/1.1 server for tests/scaleout/run.sh.

Usage: server.py ADDRESS WORKDIR NAME

Binds ADDRESS on a free port, writes the port to WORKDIR/NAME.port (once it
listens) and serves until killed:

- /status/N   status N, body "status N"
- /bytes/N    200 with N bytes
- /hold       waits while WORKDIR/hold exists (creating WORKDIR/held first,
              so the test knows a request is waiting), then 200 "released"
- anything else: 200 "ok"
"""

import http.server
import os
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        work = self.server.work
        path = self.path.split("?", 1)[0]
        status, body = 200, b"ok"
        if path.startswith("/status/"):
            status = int(path.split("/")[2])
            body = b"status %d" % status
        elif path.startswith("/bytes/"):
            body = b"x" * int(path.split("/")[2])
        elif path == "/hold":
            open(os.path.join(work, "held"), "a").close()
            while os.path.exists(os.path.join(work, "hold")):
                time.sleep(0.05)
            body = b"released"
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client was killed while its request was held.
            self.close_connection = True

    def log_message(self, *args):
        pass


def main():
    address, work, name = sys.argv[1:4]
    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    server.daemon_threads = True
    server.work = work
    port_file = os.path.join(work, name + ".port")
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
