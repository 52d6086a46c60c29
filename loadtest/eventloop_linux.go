//go:build linux

package loadtest

import (
	"net"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/perfengine/perfengine/loadtest/h1"
)

// The event loop drives the lean HTTP/1.1 client's connections with epoll,
// as wrk does: each loop owns a share of the connections, a request costs
// one write and one read, and one epoll_wait serves every connection that
// became ready. A goroutine per connection pays more per request over Go's
// netpoller: a read that finds nothing yet (EAGAIN), a park, a wake-up and
// a second read. Sockets are registered once, edge-triggered, for both
// directions, so no request costs an epoll_ctl either.

const eventLoopAvailable = true

// loopTick bounds how long a loop waits: how soon it sees an abort and
// finds a request past its timeout.
const loopTick = 10 * time.Millisecond

// loopReadBuffer is each loop's read buffer, shared by its connections; a
// response header must fit.
const loopReadBuffer = 64 << 10

type connState uint8

const (
	connIdle       connState = iota // no request in flight
	connConnecting                  // a non-blocking connect is under way
	connWriting                     // the request is partly written
	connReading                     // waiting for the response
)

// loopConn is one connection of a loop and the request it carries.
type loopConn struct {
	slot    int // its index in the loop, the epoll event's data
	fd      int // -1 when closed
	state   connState
	req     *h1.Request
	began   time.Duration // since the run's start
	written int
	used    bool // it carried a request already
	p       h1.Parser
	pending []byte // unconsumed bytes of the response: a line split across reads
}

type eventLoop struct {
	r      *runner
	sh     *shard
	epfd   int
	conns  []*loopConn
	buf    []byte
	events []unix.EpollEvent
	addrs  map[string]unix.Sockaddr
	active int // connections with a request in flight
}

// setState moves c to s, keeping count of the connections in flight.
func (l *eventLoop) setState(c *loopConn, s connState) {
	switch {
	case c.state == connIdle && s != connIdle:
		l.active++
	case c.state != connIdle && s == connIdle:
		l.active--
	}
	c.state = s
}

// eventLoops builds the loops that run a closed-model plan of the lean
// client, one per CPU the process may use, or none (and why) when the plan
// must run on goroutines.
func (r *runner) eventLoops(shards []*shard) ([]func(), error) {
	if r.open || r.cl.h1reqs == nil || r.plan.Engine == EngineGoroutines {
		return nil, nil
	}
	n := min(runtime.GOMAXPROCS(0), r.plan.Concurrency)
	loops := make([]*eventLoop, n)
	for i := range loops {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, l := range loops[:i] {
				unix.Close(l.epfd)
			}
			return nil, os.NewSyscallError("epoll_create1", err)
		}
		loops[i] = &eventLoop{r: r, sh: shards[i%len(shards)], epfd: epfd, buf: make([]byte, loopReadBuffer),
			events: make([]unix.EpollEvent, 256), addrs: map[string]unix.Sockaddr{}}
	}
	for i := range r.plan.Concurrency {
		l := loops[i%n]
		l.conns = append(l.conns, &loopConn{slot: len(l.conns), fd: -1})
	}
	runs := make([]func(), n)
	for i, l := range loops {
		runs[i] = l.run
	}
	return runs, nil
}

func (l *eventLoop) run() {
	defer l.close()
	for _, c := range l.conns {
		l.issue(c)
	}
	// Requests past their timeout are looked for every sweep, often enough
	// for the timeout's precision, seldom enough to cost nothing.
	sweep := min(100*time.Millisecond, max(l.r.plan.Timeout/10, time.Millisecond))
	wait := int(max(min(loopTick, sweep)/time.Millisecond, 1))
	swept := time.Since(l.r.start)
	for l.active > 0 && !l.r.stopping() {
		k, err := unix.EpollWait(l.epfd, l.events, wait)
		if err != nil && err != unix.EINTR {
			l.failAll(os.NewSyscallError("epoll_wait", err))
			return
		}
		for _, ev := range l.events[:max(k, 0)] {
			l.ready(l.conns[ev.Fd], ev.Events)
		}
		if now := time.Since(l.r.start); now-swept >= sweep {
			swept = now
			for _, c := range l.conns {
				if c.state != connIdle && now-c.began >= l.r.plan.Timeout {
					l.fail(c, os.ErrDeadlineExceeded)
				}
			}
		}
	}
}

// issue starts the connection's next request, if the run wants one; a
// request that fails at once is recorded and the next one started.
func (l *eventLoop) issue(c *loopConn) {
	r := l.r
	for {
		if r.aborted.Load() || r.capped.Load() {
			l.setState(c, connIdle)
			return
		}
		began := time.Since(r.start)
		if began >= r.plan.Duration || !r.take() {
			l.setState(c, connIdle)
			return
		}
		c.req, c.began, c.written = r.cl.h1reqs[r.nextTarget()], began, 0
		c.p.Reset(c.req)
		var err error
		if c.fd < 0 {
			err = l.dial(c)
		} else {
			if c.used {
				r.cl.reused.Add(1)
			}
			c.used = true
			err = l.write(c)
		}
		if err == nil {
			return
		}
		if !l.record(c, err) {
			return
		}
	}
}

// dial opens a non-blocking connection for c's request.
func (l *eventLoop) dial(c *loopConn) error {
	sa, err := l.sockaddr(c.req.Addr())
	if err != nil {
		return err
	}
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.slot)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("epoll_ctl", err)
	}
	c.fd, c.used = fd, false
	switch err := unix.Connect(fd, sa); err {
	case unix.EINPROGRESS:
		l.setState(c, connConnecting)
		return nil
	case nil:
		return l.connected(c)
	default:
		return os.NewSyscallError("connect", err)
	}
}

// sockaddr resolves addr once per loop.
func (l *eventLoop) sockaddr(addr string) (unix.Sockaddr, error) {
	if sa, ok := l.addrs[addr]; ok {
		return sa, nil
	}
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	var sa unix.Sockaddr
	if ip4 := ta.IP.To4(); ip4 != nil {
		s := &unix.SockaddrInet4{Port: ta.Port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		s := &unix.SockaddrInet6{Port: ta.Port}
		copy(s.Addr[:], ta.IP.To16())
		sa = s
	}
	l.addrs[addr] = sa
	return sa, nil
}

func (l *eventLoop) connected(c *loopConn) error {
	l.r.cl.conns.Add(1)
	c.used = true
	return l.write(c)
}

// write sends what is left of the request; the rest waits for EPOLLOUT.
func (l *eventLoop) write(c *loopConn) error {
	wire := c.req.Wire()
	for c.written < len(wire) {
		n, err := rawWrite(c.fd, wire[c.written:])
		switch {
		case err == unix.EAGAIN:
			l.setState(c, connWriting)
			return nil
		case err == unix.EINTR:
			continue
		case err != nil:
			return os.NewSyscallError("write", err)
		}
		c.written += n
	}
	l.setState(c, connReading)
	return nil
}

// ready handles the readiness epoll reported for c.
func (l *eventLoop) ready(c *loopConn, events uint32) {
	var err error
	switch c.state {
	case connConnecting:
		soErr, gerr := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case gerr != nil:
			err = os.NewSyscallError("getsockopt", gerr)
		case soErr != 0:
			err = os.NewSyscallError("connect", unix.Errno(soErr))
		case events&unix.EPOLLOUT == 0:
			return // not connected yet
		default:
			err = l.connected(c)
			if err == nil && c.state == connReading {
				// A response can only follow a whole request; there is no
				// read to try before its edge comes.
				return
			}
		}
	case connWriting:
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if err = l.write(c); err == nil && c.state == connReading {
			// The server may have answered while we waited to write; its
			// edge came before we listened.
			l.read(c, events)
			return
		}
	case connReading:
		if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			l.read(c, events)
		}
		return
	default:
		return
	}
	if err != nil {
		l.fail(c, err)
	}
}

// read takes what arrived and feeds the parser, until the socket is
// drained or the response complete. events are what epoll reported: when
// the peer closed, its close came with this edge and brings no other, so
// the socket is read to its end.
func (l *eventLoop) read(c *loopConn, events uint32) {
	closing := events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	for {
		off := copy(l.buf, c.pending)
		n, err := rawRead(c.fd, l.buf[off:])
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		case err != nil:
			l.fail(c, os.NewSyscallError("read", err))
			return
		case n == 0:
			if done, err := c.p.EOF(); !done {
				l.fail(c, err)
				return
			}
			l.closeConn(c)
			l.complete(c)
			return
		}
		data := l.buf[:off+n]
		m, done, err := c.p.Feed(data)
		if err != nil {
			l.fail(c, err)
			return
		}
		if done {
			if resp := c.p.Response(); resp.Close || m < len(data) {
				// Closing, or bytes the server sent unasked: the stream
				// is out of step. Either way the connection is done.
				l.closeConn(c)
			}
			c.pending = c.pending[:0]
			l.complete(c)
			return
		}
		rest := data[m:]
		if len(rest) == len(l.buf) {
			l.fail(c, h1.ErrHeaderTooLarge)
			return
		}
		c.pending = append(c.pending[:0], rest...)
		if off+n < len(l.buf) && !closing {
			return // drained for now; the next data brings its own edge
		}
	}
}

// complete records c's response and starts its next request.
func (l *eventLoop) complete(c *loopConn) {
	resp := c.p.Response()
	done := time.Since(l.r.start)
	d := done - c.began
	l.sh.mu.Lock()
	l.sh.sent++
	l.sh.mu.Unlock()
	l.sh.record(outcome{done: done, corrected: d, actual: d, status: resp.Status, in: resp.Bytes, out: int64(c.req.Len())})
	l.issue(c)
}

// fail closes c after err, records the failure and starts the next
// request, unless the run is stopping: then the failure is ours.
func (l *eventLoop) fail(c *loopConn, err error) {
	l.closeConn(c)
	if l.record(c, err) {
		l.issue(c)
	} else {
		l.setState(c, connIdle)
	}
}

// record counts a failed request; it reports false when the run is
// stopping and the failure was an interruption, not the service's.
func (l *eventLoop) record(c *loopConn, err error) bool {
	if l.r.stopping() {
		return false
	}
	done := time.Since(l.r.start)
	d := done - c.began
	resp := c.p.Response()
	l.sh.mu.Lock()
	l.sh.sent++
	l.sh.mu.Unlock()
	l.sh.record(outcome{done: done, corrected: d, actual: d, status: resp.Status, kind: classify(err), in: resp.Bytes, out: int64(c.req.Len())})
	return true
}

// failAll records err for every request in flight; the loop cannot go on.
func (l *eventLoop) failAll(err error) {
	for _, c := range l.conns {
		if c.state != connIdle {
			l.closeConn(c)
			l.setState(c, connIdle)
			l.record(c, err)
		}
	}
}

func (l *eventLoop) closeConn(c *loopConn) {
	if c.fd >= 0 {
		unix.Close(c.fd) // closing also leaves the epoll set
		c.fd = -1
	}
	c.pending = c.pending[:0]
}

func (l *eventLoop) close() {
	for _, c := range l.conns {
		l.closeConn(c)
	}
	unix.Close(l.epfd)
}

// rawRead and rawWrite skip the runtime's bookkeeping for a system call
// that may block: on a non-blocking socket neither does, and a request
// makes two of them.
func rawRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return rawResult(n, e)
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return rawResult(n, e)
}

func rawResult(n uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
