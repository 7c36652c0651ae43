"""A stand-in service process for the launcher tests: /readyz on SILOBRIDGE_HTTP_PORT.

FAKE_READY_AFTER_S: seconds before /readyz answers 200 (503 before); FAKE_EXIT: exit at once with
this code; FAKE_IGNORE_SIGTERM: keep running on SIGTERM (the launcher must SIGKILL it).
"""

import http.server
import os
import signal
import sys
import threading
import time

if os.environ.get("FAKE_EXIT"):
    print("fake service: failing on purpose at start-up", flush=True)
    sys.exit(int(os.environ["FAKE_EXIT"]))

started = time.monotonic()
ready_after = float(os.environ.get("FAKE_READY_AFTER_S", "0"))
stop = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/readyz" and time.monotonic() - started >= ready_after
        body = os.environ.get("SILOBRIDGE_PARTY_ID", "").encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["SILOBRIDGE_HTTP_PORT"])), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
if os.environ.get("FAKE_IGNORE_SIGTERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
print("fake service ready", flush=True)
stop.wait()
server.shutdown()
sys.exit(0)
