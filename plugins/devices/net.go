package devices

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// maxBody bounds how much of an HTTP answer is read: status pages are small, and a probe must not
// stream a video feed into memory.
const maxBody = 1 << 20

// splitAddress parses "host", "host:port" or "[v6]:port", filling defPort (0 = a port is required).
func splitAddress(addr string, defPort int) (host string, port int, err error) {
	if addr == "" {
		return "", 0, errors.New("address is empty")
	}
	h, p, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		// No port (or a bare IPv6 literal): use the default if there is one.
		if defPort == 0 {
			return "", 0, fmt.Errorf("address %q needs host:port", addr)
		}
		h, p = strings.Trim(addr, "[]"), strconv.Itoa(defPort)
		if strings.ContainsAny(h, "/ ") {
			return "", 0, fmt.Errorf("address %q is not host or host:port", addr)
		}
	}
	if h == "" {
		return "", 0, fmt.Errorf("address %q has no host", addr)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("address %q: port %q is not a number from 1 to 65535", addr, p)
	}
	return h, n, nil
}

// validateAddress returns an error diagnostic when addr does not parse.
func validateAddress(d spec.Device, defPort int) spec.Diagnostics {
	if _, _, err := splitAddress(d.Address, defPort); err != nil {
		return spec.Diagnostics{diagErr(d.PosOf("address"), fmt.Sprintf("device %q (kind %s): %v", d.Name, d.Kind, err))}
	}
	return nil
}

func joinAddress(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// describeNetErr turns a dial/read error into the short human reason a check line shows.
func describeNetErr(err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens on that port)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return fmt.Sprintf("no answer within %s", roundDur(timeout))
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable (no device answers at that address)"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable (this machine has no route to it)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the device"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q (%s)", dnsErr.Name, dnsErr.Err)
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// roundDur prints durations the way people say them: 3s, 1.5s, 250ms.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// TCP checks that something accepts a TCP connection at the device's host:port.
type TCP struct{}

var _ reconcile.Checker = TCP{}

// Name is the kind TCP serves.
func (TCP) Name() string { return "tcp" }

// Validate requires host:port; tcp takes no parameters.
func (TCP) Validate(_ context.Context, d spec.Device) spec.Diagnostics {
	return append(validateAddress(d, 0), schema{}.validate(d)...)
}

// Check dials once; the connection's set-up time is the latency.
func (TCP) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	start := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.Address)
	lat := time.Since(start)
	if err != nil {
		return reconcile.CheckResult{Latency: lat, Detail: describeNetErr(err, d.Timeout)}, nil
	}
	_ = conn.Close()
	return reconcile.CheckResult{OK: true, Latency: lat, Detail: fmt.Sprintf("connected in %s", roundDur(lat))}, nil
}

// UDP sends one datagram and, with expect:, requires an answer containing it. Without expect: UDP
// cannot prove a listener exists, so the check only fails on an ICMP port-unreachable answer.
type UDP struct{}

var _ reconcile.Checker = UDP{}

// udpNoExpectWait bounds the wait for an ICMP error when no answer is expected: long enough for a
// LAN round trip, short enough that a silent UDP device does not cost the whole timeout.
const udpNoExpectWait = 500 * time.Millisecond

var udpSchema = schema{
	{name: "send", typ: paramString},   // payload to send (default: empty datagram)
	{name: "expect", typ: paramString}, // substring the answer must contain
}

// Name is the kind UDP serves.
func (UDP) Name() string { return "udp" }

// Validate requires host:port and known params.
func (UDP) Validate(_ context.Context, d spec.Device) spec.Diagnostics {
	return append(validateAddress(d, 0), udpSchema.validate(d)...)
}

// Check sends the payload and waits for an answer or an ICMP error.
func (UDP) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	expect := paramStr(d, "expect", "")
	conn, err := (&net.Dialer{}).DialContext(ctx, "udp", d.Address)
	if err != nil {
		return reconcile.CheckResult{Detail: describeNetErr(err, d.Timeout)}, nil
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	wait := d.Timeout
	if expect == "" {
		wait = min(wait, udpNoExpectWait)
	}
	start := time.Now()
	if _, err := conn.Write([]byte(paramStr(d, "send", ""))); err != nil {
		return reconcile.CheckResult{Detail: "send: " + describeNetErr(err, d.Timeout)}, nil
	}
	_ = conn.SetReadDeadline(start.Add(wait))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	lat := time.Since(start)
	switch {
	case err != nil && expect == "" && isTimeout(err) && !errors.Is(ctx.Err(), context.Canceled):
		return reconcile.CheckResult{OK: true, Latency: lat, Detail: fmt.Sprintf(
			"datagram sent, no port-unreachable within %s (UDP has no handshake: set expect: to require an answer)", roundDur(wait))}, nil
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		return reconcile.CheckResult{Latency: lat, Detail: "port unreachable (ICMP): nothing listens on that UDP port"}, nil
	case err != nil:
		return reconcile.CheckResult{Latency: lat, Detail: describeNetErr(err, wait)}, nil
	case expect != "" && !strings.Contains(string(buf[:n]), expect):
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf("answer %q does not contain %q", head(buf[:n], 60), expect)}, nil
	}
	return reconcile.CheckResult{OK: true, Latency: lat, Detail: fmt.Sprintf("answered %q in %s", head(buf[:n], 40), roundDur(lat))}, nil
}

// HTTP requests a URL and checks the status code and, optionally, a substring of the body.
type HTTP struct{}

var _ reconcile.Checker = HTTP{}

var httpSchema = schema{
	{name: "path", typ: paramString, check: func(v string) string {
		if !strings.HasPrefix(v, "/") {
			return fmt.Sprintf("%q must start with /", v)
		}
		return ""
	}},
	{name: "expectStatus", typ: paramString, check: func(v string) string {
		if _, err := parseStatusSet(v); err != nil {
			return err.Error()
		}
		return ""
	}},
	{name: "expectBody", typ: paramString},
	{name: "insecure", typ: paramBool}, // skip TLS verification (self-signed lab services)
}

// Name is the kind HTTP serves.
func (HTTP) Name() string { return "http" }

// Validate requires a URL or host[:port] and known params.
func (HTTP) Validate(_ context.Context, d spec.Device) spec.Diagnostics {
	var diags spec.Diagnostics
	if _, err := httpURL(d); err != nil {
		diags = append(diags, diagErr(d.PosOf("address"), fmt.Sprintf("device %q (kind http): %v", d.Name, err)))
	}
	return append(diags, httpSchema.validate(d)...)
}

// httpURL builds the URL to request: the address as a URL when it has a scheme, otherwise
// http://address plus the path param.
func httpURL(d spec.Device) (string, error) {
	addr := d.Address
	if !strings.Contains(addr, "://") {
		if _, _, err := splitAddress(addr, 80); err != nil {
			return "", err
		}
		path := paramStr(d, "path", "/")
		if !strings.HasPrefix(path, "/") {
			path = "/" + path // reported by the schema; avoid a second, confusing error here
		}
		addr = "http://" + addr + path
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("address %q is not a URL: %w", d.Address, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("address %q: scheme %q is not http or https", d.Address, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("address %q has no host", d.Address)
	}
	if p, ok := d.Params["path"]; ok && strings.Contains(d.Address, "://") {
		u.Path = p
	}
	return u.String(), nil
}

// statusSet matches status codes: exact codes ("200") and classes ("2xx").
type statusSet []string

func parseStatusSet(v string) (statusSet, error) {
	var set statusSet
	for _, part := range strings.Split(v, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		ok := len(part) == 3 && part[0] >= '1' && part[0] <= '5'
		if ok && part[1:] != "xx" {
			_, err := strconv.Atoi(part)
			ok = err == nil
		}
		if !ok {
			return nil, fmt.Errorf("%q is not a status code list such as 200 or 200,204 or 2xx", v)
		}
		set = append(set, part)
	}
	return set, nil
}

func (s statusSet) match(code int) bool {
	c := strconv.Itoa(code)
	for _, want := range s {
		if want == c || (strings.HasSuffix(want, "xx") && want[0] == c[0]) {
			return true
		}
	}
	return false
}

// Check sends one GET. A transport failure, an unexpected status or a missing body substring is a
// finding.
func (HTTP) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	target, err := httpURL(d)
	if err != nil {
		return reconcile.CheckResult{}, err
	}
	want, err := parseStatusSet(paramStr(d, "expectStatus", "2xx,3xx"))
	if err != nil {
		return reconcile.CheckResult{}, err
	}
	insecure := paramBoolean(d, "insecure", false)
	code, status, body, lat, err := httpGet(ctx, target, insecure)
	if err != nil {
		return reconcile.CheckResult{Latency: lat, Detail: "GET " + target + ": " + describeHTTPErr(err, d.Timeout)}, nil
	}
	res := reconcile.CheckResult{Latency: lat, Facts: map[string]string{"status": strconv.Itoa(code)}}
	if !want.match(code) {
		res.Detail = fmt.Sprintf("GET %s answered %s, want %s", target, status, strings.Join(want, " or "))
		return res, nil
	}
	if exp := paramStr(d, "expectBody", ""); exp != "" && !strings.Contains(string(body), exp) {
		res.Detail = fmt.Sprintf("GET %s answered %s but the body does not contain %q (it began %q)", target, status, exp, head(body, 60))
		return res, nil
	}
	res.OK = true
	res.Detail = fmt.Sprintf("%s in %s", status, roundDur(lat))
	return res, nil
}

// httpGet performs one GET bounded by ctx, reading at most maxBody bytes of the answer. It never
// reuses connections: a probe measures a fresh connection, as a client starting a session would.
// When the answer began but did not finish, the error is an *httpStall saying how far it got.
func httpGet(ctx context.Context, target string, insecure bool) (code int, status string, body []byte, lat time.Duration, err error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		Proxy:             nil,                                       // a lab device is never behind the user's HTTP proxy
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure}, //nolint:gosec // opt-in per device
	}
	defer tr.CloseIdleConnections()
	start := time.Now()
	var connected, firstByte atomic.Int64 // nanoseconds since start; 0 = not yet
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { connected.Store(int64(max(time.Since(start), 1))) },
		GotFirstResponseByte: func() { firstByte.Store(int64(max(time.Since(start), 1))) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, "", nil, 0, err
	}
	req.Header.Set("User-Agent", "avatar-sync-check")
	// One GET, as documented: a redirect is the device's answer (3xx counts for expectStatus), never
	// a second request to wherever it points (a captive portal, a host not in the spec).
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := (&http.Client{Transport: tr, CheckRedirect: noRedirect}).Do(req)
	lat = time.Since(start)
	if err != nil {
		if connected.Load() == 0 {
			return 0, "", nil, lat, err
		}
		return 0, "", nil, lat, &httpStall{connected: time.Duration(connected.Load()), firstByte: time.Duration(firstByte.Load()), err: err}
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, resp.Status, body, lat, &httpStall{connected: time.Duration(connected.Load()),
			firstByte: time.Duration(firstByte.Load()), status: resp.Status, headers: lat, bodyBytes: len(body), err: err}
	}
	return resp.StatusCode, resp.Status, body, lat, nil
}

// httpStall is an HTTP answer that began and then stopped. An endpoint that sent its headers in
// 323ms and then stalled is not "no answer within 2s" (issue 10): the report says what arrived.
type httpStall struct {
	connected time.Duration // when the connection was up
	firstByte time.Duration // when the answer's first byte arrived (0: none did)
	status    string        // the status line, when the headers were complete
	headers   time.Duration // when they were
	bodyBytes int           // how much of the body arrived
	err       error
}

func (e *httpStall) Error() string { return e.describe(0) }
func (e *httpStall) Unwrap() error { return e.err }

// describe says how far the answer got; timeout is the probe's budget (0: unknown).
func (e *httpStall) describe(timeout time.Duration) string {
	within := ""
	if timeout > 0 {
		within = " within " + roundDur(timeout).String()
	}
	stalled := isTimeout(e.err) || errors.Is(e.err, context.DeadlineExceeded)
	switch {
	case e.status != "" && stalled:
		return fmt.Sprintf("answered %s after %s, then the body stalled (%d bytes arrived%s)", e.status, roundDur(e.headers), e.bodyBytes, within)
	case e.status != "":
		return fmt.Sprintf("answered %s after %s, then reading the body failed after %d bytes: %s", e.status, roundDur(e.headers), e.bodyBytes, describeNetErr(e.err, timeout))
	case e.firstByte > 0 && stalled:
		return fmt.Sprintf("the answer began after %s but its status line and headers were not complete%s", roundDur(e.firstByte), within)
	case stalled:
		return fmt.Sprintf("connected in %s, but no answer%s", roundDur(e.connected), within)
	}
	return fmt.Sprintf("connected in %s, then %s", roundDur(e.connected), describeNetErr(e.err, timeout))
}

// describeHTTPErr is describeNetErr for httpGet's errors: a stalled answer says what arrived.
func describeHTTPErr(err error, timeout time.Duration) string {
	var stall *httpStall
	if errors.As(err, &stall) {
		return stall.describe(timeout)
	}
	return describeNetErr(err, timeout)
}

// head quotes at most n bytes of b for a message, never cutting a UTF-8 character in half (the
// detail ends up in check -o json).
func head(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}
