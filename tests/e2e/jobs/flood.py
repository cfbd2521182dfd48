"""Opens N idle TCP connections to 127.0.0.1:PORT and holds them for SECONDS (or until stdin
closes), then prints how many connected and how many the server closed meanwhile.
    python3 flood.py PORT N SECONDS"""
import resource, select, socket, sys, time

port, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
socks, failed = [], 0
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        failed += 1
        s.close()
        continue
    socks.append(s)
print("opened", len(socks), flush=True)
closed, end = set(), time.time() + seconds
poller = select.poll()
by_fd = {s.fileno(): s for s in socks}
for fd in by_fd:
    poller.register(fd, select.POLLIN)
while time.time() < end and len(closed) < len(socks):
    for fd, _ in poller.poll(200):
        try:
            gone = not by_fd[fd].recv(1)
        except OSError:
            gone = True
        if gone:
            closed.add(fd)
            poller.unregister(fd)
print("connections", len(socks), "refused", failed, "closed-by-server", len(closed), flush=True)
