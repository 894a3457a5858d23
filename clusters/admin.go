// Package clusters is avatar-sync's only speaker of the Kafka protocol. It connects to the targets
// of a spec's `clusters:` list with sarama, runs the embedded in-process cluster (kfake) that is the
// default target, and implements reconcile.Cluster. sarama and kfake types never leave this package:
// everything it returns is a topics or reconcile value.
//
// Every method batches: one request per operation (or per broker where Kafka routes by broker),
// never one per topic, because on a real cluster the number of round trips, not the bytes, decides
// how long a plan over thousands of topics takes (issue 3, docs/benchmarks.md).
package clusters

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Default bounds. A cluster that does not answer within them is reported, not waited on.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 30 * time.Second
	// DefaultConnectTimeout bounds the first exchange with one bootstrap broker. A port that
	// accepts connections but never answers (not Kafka, or TLS expected) would otherwise hold
	// the command for three request timeouts: ApiVersions, its v0 retry and Metadata.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultStateDir is where the embedded cluster keeps its state, relative to the working directory.
	DefaultStateDir = ".avatar-sync/embedded"
)

// Options tune how Open connects. The zero value is a safe default.
type Options struct {
	// StateDir holds the embedded cluster's state (--state-dir); "" means DefaultStateDir.
	StateDir string
	// InsecureSkipVerify disables TLS certificate verification. Never the default; only for a lab
	// cluster whose CA is not at hand.
	InsecureSkipVerify bool
	// DialTimeout bounds each TCP/TLS connect (0 = DefaultDialTimeout).
	DialTimeout time.Duration
	// RequestTimeout bounds each request's round trip and is the timeout sent to the broker for
	// admin operations (0 = DefaultRequestTimeout).
	RequestTimeout time.Duration
	// ConnectTimeout bounds one bootstrap broker's whole first exchange: connect, TLS, ApiVersions,
	// SASL and the first Metadata (0 = DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// Advertise makes an embedded cluster that Open starts record its listeners in the state
	// directory, as `dev up` does, so plan and apply in other processes join it instead of waiting
	// for the directory. Long-lived holders (watch) set it; short-lived ones need not.
	Advertise bool
	// Waiting, when set, is told once that Open waits for another short-lived process (its error
	// names the pid) to release the embedded cluster's state directory, so the command can say why
	// it pauses for up to RequestTimeout.
	Waiting func(busy error)
	// ClientID is sent to the brokers so their logs name avatar-sync ("" = "avatar-sync").
	ClientID string
	// Notice, when set, is told things the user should know that are not errors, such as an apply
	// lock taken over from a holder whose process died (issue 10 item 10).
	Notice func(msg string)
	// ReadOnly opens the embedded cluster on a private copy of its state, so nothing is saved
	// (EmbeddedOptions.ReadOnly). plan sets it; a read-only open of a running `dev up` just joins.
	ReadOnly bool
}

func (o Options) withDefaults() Options {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ClientID == "" {
		o.ClientID = "avatar-sync"
	}
	return o
}

// Admin is a connection to one cluster target. It implements reconcile.Cluster.
type Admin struct {
	name      string
	bootstrap []string
	conf      *sarama.Config
	timeout   time.Duration
	// connectTimeout bounds opening a connection to a broker (Options.ConnectTimeout).
	connectTimeout time.Duration
	// client is sarama's high-level client, used only by the apply lock's producer.
	client sarama.Client
	// seed answers requests any broker can serve; brokers and controllerID come from the latest
	// Metadata response. Our own requests never trigger sarama's background metadata refreshes.
	seed         *sarama.Broker
	mu           sync.Mutex
	brokers      map[int32]*sarama.Broker
	controllerID int32
	// embedded is the in-process cluster Open started for an embedded target; Close stops it.
	embedded *Embedded
	// noticeFn is Options.Notice.
	noticeFn func(msg string)
}

var _ reconcile.Cluster = (*Admin)(nil)

func init() {
	// sarama logs retries and reconnects to its package logger; avatar-sync reports one clear error
	// instead (issue 3), so keep it silent.
	sarama.Logger = log.New(io.Discard, "", 0)
}

// Open connects to the target named target in s. For the embedded target it starts the in-process
// cluster under opts.StateDir (or joins the one `avatar-sync dev up` is already serving from that
// directory); Close stops what Open started.
func Open(ctx context.Context, s *spec.Spec, target string, opts Options) (*Admin, error) {
	opts = opts.withDefaults()
	c, err := s.Target(target)
	if err != nil {
		return nil, fmt.Errorf("--cluster %w", err)
	}
	if !c.Embedded() {
		c.CAFile = defaultCAFile(s, c)
		conf, err := saramaConfig(c, opts)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		return connect(ctx, c.Name, c.Bootstrap, conf, opts)
	}

	admin, err := EmbeddedAdminOf(c)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	e, err := startOrJoin(ctx, s, opts, admin)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	if e == nil {
		// `dev up` is serving this state directory: talk to it instead of opening the files twice.
		addrs, err := runningBootstrap(opts.StateDir)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		conf, err := saramaConfig(clientCluster(c.Name, runningCAFile(opts.StateDir)), opts)
		if err == nil && admin != nil {
			err = useSASL(conf, admin.Mechanism, admin.User, admin.Password)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		return connect(ctx, c.Name, addrs, conf, opts)
	}
	a, err := e.Connect(ctx, opts)
	if err != nil {
		e.Close()
		return nil, err
	}
	a.name = c.Name
	a.embedded = e
	return a, nil
}

// startOrJoin starts the embedded cluster from opts.StateDir. When another process holds the
// directory it returns (nil, nil) if that process serves the cluster (`dev up`), and otherwise
// waits, bounded by the request timeout and ctx, for it (a concurrent plan or apply) to finish.
func startOrJoin(ctx context.Context, s *spec.Spec, opts Options, admin *EmbeddedAdmin) (*Embedded, error) {
	deadline := time.Now().Add(opts.RequestTimeout)
	wait := 50 * time.Millisecond
	for {
		e, err := StartEmbedded(ctx, s, EmbeddedOptions{StateDir: opts.StateDir, Advertise: opts.Advertise && !opts.ReadOnly, ReadOnly: opts.ReadOnly, Admin: admin})
		if !errors.Is(err, ErrEmbeddedBusy) {
			return e, err
		}
		if _, rerr := runningBootstrap(opts.StateDir); rerr == nil {
			return nil, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w; waited %s for it to finish", err, opts.RequestTimeout)
		}
		if opts.Waiting != nil {
			opts.Waiting(err)
			opts.Waiting = nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", err, ctx.Err())
		case <-time.After(wait):
			wait = min(2*wait, 500*time.Millisecond)
		}
	}
}

// connect asks the bootstrap brokers, in order, for the cluster's brokers and controller, and
// turns a cluster where none answers into one line.
func connect(ctx context.Context, name string, bootstrap []string, conf *sarama.Config, opts Options) (*Admin, error) {
	a := &Admin{name: name, bootstrap: bootstrap, conf: conf, timeout: opts.RequestTimeout, connectTimeout: opts.ConnectTimeout, brokers: map[int32]*sarama.Broker{}, noticeFn: opts.Notice}
	var errs []error
	for _, addr := range bootstrap {
		seed := sarama.NewBroker(addr)
		// Metadata for one (usually absent) topic: the cheapest request that names every broker
		// and the controller. An empty topic list would mean "all topics" to sarama.
		attempt, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
		md, err := call(attempt, func() (*sarama.MetadataResponse, error) {
			if _, err := a.open(attempt, seed); err != nil {
				return nil, err
			}
			return seed.GetMetadata(sarama.NewMetadataRequest(conf.Version, []string{LockTopic}))
		})
		silent := attempt.Err() != nil
		cancel()
		if err != nil {
			// Close waits for an abandoned in-flight request; never let that hold the caller.
			go seed.Close() //nolint:errcheck // best effort on a failed connection
			if ctx.Err() != nil {
				return nil, unreachable(name, bootstrap, conf, ctx.Err())
			}
			if silent {
				err = &noAnswerError{after: opts.ConnectTimeout}
			}
			errs = append(errs, err)
			continue
		}
		a.seed = seed
		a.learn(md)
		// sarama's client serves only the lock's producer; it dials lazily.
		client, err := sarama.NewClient(bootstrap, conf)
		if err != nil {
			_ = a.Close()
			return nil, unreachable(name, bootstrap, conf, err)
		}
		a.client = client
		return a, nil
	}
	return nil, unreachable(name, bootstrap, conf, errors.Join(errs...))
}

// learn records the brokers and controller a Metadata response names, keeping open connections.
func (a *Admin) learn(md *sarama.MetadataResponse) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.controllerID = md.ControllerID
	seen := map[int32]bool{}
	for _, b := range md.Brokers {
		seen[b.ID()] = true
		if old, ok := a.brokers[b.ID()]; ok && old.Addr() == b.Addr() {
			continue
		} else if ok {
			_ = old.Close()
		}
		a.brokers[b.ID()] = b
	}
	for id, b := range a.brokers {
		if !seen[id] {
			_ = b.Close()
			delete(a.brokers, id)
		}
	}
}

// unreachable phrases a failed connect as `cannot reach cluster "dev" at a,b: connection refused`:
// one line whatever the number of brokers tried, with the root cause dug out of sarama's wrapping.
func unreachable(name string, bootstrap []string, conf *sarama.Config, err error) error {
	var causes []string
	seen := map[string]bool{}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		c := connectCause(e, conf)
		if !seen[c] {
			seen[c] = true
			causes = append(causes, c)
		}
	}
	return &UnreachableError{Cluster: name, Bootstrap: bootstrap, Cause: strings.Join(causes, "; "), err: err}
}

// connectCause names why one connection attempt failed, with a hint where the fix is known.
func connectCause(err error, conf *sarama.Config) string {
	var (
		opErr   *net.OpError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
	)
	var silent *noAnswerError
	switch {
	case errors.As(err, &silent):
		if conf != nil && !conf.Net.TLS.Enable {
			return fmt.Sprintf("%v (is it a Kafka listener? does it need security: ssl or sasl_ssl?)", silent)
		}
		return fmt.Sprintf("%v (is it a Kafka listener?)", silent)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("unknown host %q", dnsErr.Name)
	case errors.As(err, &certErr):
		return certificateCause(certErr)
	case errors.As(err, &recErr):
		return "the broker does not speak TLS on this port (security: ssl against a plaintext listener?)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		switch {
		case conf != nil && conf.Net.SASL.Enable:
			return "the broker closed the connection during authentication (wrong SASL username, password or mechanism?)"
		case conf != nil && !conf.Net.TLS.Enable:
			return "the broker closed the connection (does this listener need security: ssl or sasl_ssl?)"
		}
		return "the broker closed the connection"
	case errors.As(err, &opErr) && opErr.Timeout():
		return "connection timed out"
	case errors.As(err, &opErr):
		return opErr.Err.Error()
	case errors.Is(err, sarama.ErrOutOfBrokers):
		return "no broker answered"
	}
	return err.Error()
}

// certificateCause tells a certificate the CA did not issue (caFile is wrong) from one it issued
// that has expired or does not name the address dialled: those are fixed by re-issuing and
// restarting the brokers, not by another caFile (issue 10).
func certificateCause(certErr *tls.CertificateVerificationError) string {
	var (
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
	)
	var leaf *x509.Certificate
	if len(certErr.UnverifiedCertificates) > 0 {
		leaf = certErr.UnverifiedCertificates[0]
	}
	const reissue = "run `avatar-sync certs generate` (or `certs rotate`) and restart the brokers (dev up: restart it)"
	switch {
	case errors.As(certErr.Err, &invalid) && invalid.Reason == x509.Expired && leaf != nil && time.Now().After(leaf.NotAfter):
		return fmt.Sprintf("the broker's TLS certificate expired on %s (%s); %s", leaf.NotAfter.UTC().Format(time.RFC3339), leaf.Subject.CommonName, reissue)
	case errors.As(certErr.Err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("the broker's TLS certificate (or its CA) is outside its validity period (%v; is this machine's clock right?); %s", invalid, reissue)
	case errors.As(certErr.Err, &hostname):
		return fmt.Sprintf("the broker's TLS certificate is not valid for %s (%v); add the address to the broker's host or tls.extraSANs, then %s", hostname.Host, hostname, reissue)
	}
	return fmt.Sprintf("TLS certificate not trusted (%v); set caFile to the cluster's CA", certErr.Err)
}

// noAnswerError is a bootstrap broker that accepted the connection but did not complete the first
// exchange within Options.ConnectTimeout.
type noAnswerError struct{ after time.Duration }

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("no answer within %s", e.after)
}

// UnreachableError says a cluster could not be reached at all (nothing was changed).
type UnreachableError struct {
	Cluster   string
	Bootstrap []string
	Cause     string
	err       error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach cluster %q at %s: %s", e.Cluster, strings.Join(e.Bootstrap, ","), e.Cause)
}

// Unwrap exposes the underlying network error for errors.Is (e.g. context.DeadlineExceeded).
func (e *UnreachableError) Unwrap() error { return e.err }

// Name is the target's name in the spec.
func (a *Admin) Name() string { return a.name }

// Bootstrap is the address list the Admin connected through.
func (a *Admin) Bootstrap() []string { return a.bootstrap }

// Close drops the connections and, for an embedded target Open started, stops the in-process
// cluster (flushing its state to the state directory).
func (a *Admin) Close() error {
	var err error
	if a.client != nil {
		err = a.client.Close()
	}
	a.mu.Lock()
	conns := []*sarama.Broker{}
	for _, b := range a.brokers {
		conns = append(conns, b)
	}
	a.mu.Unlock()
	if a.seed != nil {
		conns = append(conns, a.seed)
	}
	closeBounded(conns, 2*time.Second)
	if a.embedded != nil {
		err = errors.Join(err, a.embedded.Close())
	}
	return err
}

// closeBounded closes connections in parallel but waits at most limit: sarama's Close blocks
// behind a request abandoned on ctx cancellation (Ctrl-C), which must not delay the exit.
func closeBounded(conns []*sarama.Broker, limit time.Duration) {
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, b := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = b.Close()
			}()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
	}
}

// call runs a blocking sarama call so that ctx cancellation returns promptly. sarama takes no
// context; the abandoned call still ends on its own within the configured dial/read timeouts.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	return goCall(ctx, fn)()
}

// goCall starts fn and returns what waits for its answer, so that requests that do not depend on
// each other are in flight at once (issue 23); call is goCall waited for at once. The wait ends
// when ctx does, with ctx's error: an answer never waited for is dropped. fn is not started once
// ctx has ended.
func goCall[T any](ctx context.Context, fn func() (T, error)) func() (T, error) {
	if err := ctx.Err(); err != nil {
		return func() (T, error) {
			var zero T
			return zero, err
		}
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	return func() (T, error) {
		select {
		case r := <-ch:
			return r.v, r.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// open connects b unless it already is (sarama brokers from metadata start closed) and returns it.
func (a *Admin) open(ctx context.Context, b *sarama.Broker) (*sarama.Broker, error) {
	for {
		if err := b.Open(a.conf); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
			return nil, err
		}
		connected, err := b.Connected()
		if err != nil {
			return nil, fmt.Errorf("connect to broker %d at %s: %w", b.ID(), b.Addr(), err)
		}
		if connected {
			return b, nil
		}
		// sarama marks a broker opened before its dial holds the broker's lock: a second Open at
		// that moment sees neither a connection nor an error yet, and its request would fail
		// with "broker not connected". Ask again once the dial has had a moment; ctx (the caller's
		// connect time-out) bounds the wait, so a goroutine nobody waits for ends too.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to broker %d at %s: %w", b.ID(), b.Addr(), ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// controller returns the controller broker, connected; admin writes go there.
func (a *Admin) controller(ctx context.Context) (*sarama.Broker, error) {
	a.mu.Lock()
	id := a.controllerID
	a.mu.Unlock()
	return a.broker(ctx, id)
}

// broker returns the connected broker with the given id.
func (a *Admin) broker(ctx context.Context, id int32) (*sarama.Broker, error) {
	a.mu.Lock()
	b, ok := a.brokers[id]
	a.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("cluster %q: broker %d is not in the cluster metadata", a.name, id)
	}
	return a.openBounded(ctx, b)
}

// openBounded opens b within the connect timeout. sarama's Open waits up to three request
// timeouts (ApiVersions, its retry, then the caller's request) on a broker that accepts the
// connection but never answers, e.g. an advertised listener that is not the broker.
func (a *Admin) openBounded(ctx context.Context, b *sarama.Broker) (*sarama.Broker, error) {
	octx, cancel := context.WithTimeout(ctx, a.connectTimeout)
	defer cancel()
	ob, err := call(octx, func() (*sarama.Broker, error) { return a.open(octx, b) })
	if err != nil && ctx.Err() == nil && octx.Err() != nil {
		return nil, fmt.Errorf("cluster %q: connect to broker %d at %s: %w", a.name, b.ID(), b.Addr(), &noAnswerError{after: a.connectTimeout})
	}
	return ob, err
}

// allBrokers lists the known brokers by id.
func (a *Admin) allBrokers() []*sarama.Broker {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*sarama.Broker, 0, len(a.brokers))
	for _, b := range a.brokers {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// anyBroker returns a connected broker for requests any broker can answer.
func (a *Admin) anyBroker(ctx context.Context) (*sarama.Broker, error) {
	return a.openBounded(ctx, a.seed)
}

// kafkaError is a per-item protocol error. Its text is Kafka's explanation plus the broker's
// message; the code stays inside this package (errors.Is against sarama's codes here only).
type kafkaError struct {
	code sarama.KError
	text string
}

func (e *kafkaError) Error() string { return e.text }

// Is lets this package match codes with errors.Is(err, sarama.ErrTopicAlreadyExists).
func (e *kafkaError) Is(target error) bool {
	k, ok := target.(sarama.KError)
	return ok && k == e.code
}

// kafkaErr turns a per-item protocol error into an error (nil for success).
func kafkaErr(code sarama.KError, msg *string) error {
	if code == sarama.ErrNoError {
		return nil
	}
	text := strings.TrimPrefix(code.Error(), "kafka server: ")
	if msg != nil && *msg != "" && !strings.Contains(text, *msg) {
		text += ": " + *msg
	}
	return &kafkaError{code: code, text: text}
}

// envOrFile reads a password reference through spec.ResolvePassword, the one resolver (issue 9).
func envOrFile(what, env, file string) (string, error) {
	pw, _, err := spec.ResolvePassword(env, file, os.Getenv, os.ReadFile)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return pw, nil
}

// EmbeddedAdminOf is the super user of an embedded target with security: sasl_plaintext (issue
// 14), its password read from the reference; nil for a plaintext target.
func EmbeddedAdminOf(c spec.Cluster) (*EmbeddedAdmin, error) {
	if c.Security != spec.SecuritySASLPlaintext || c.SASL == nil {
		return nil, nil
	}
	pw, err := envOrFile("sasl password", c.SASL.PasswordEnv, c.SASL.PasswordFile)
	if err != nil {
		return nil, err
	}
	return &EmbeddedAdmin{Mechanism: strings.ToUpper(c.SASL.Mechanism), User: c.SASL.Username, Password: pw}, nil
}
