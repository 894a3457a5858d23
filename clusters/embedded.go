package clusters

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/avatar-project/avatar-sync/clusters/internal/kfakeseam"
	"github.com/avatar-project/avatar-sync/spec"
)

func init() {
	// The one seam the test controls of clusters/clustertest need; see kfakeseam.
	kfakeseam.ClusterOf = func(e any) *kfake.Cluster { return e.(*Embedded).c }
}

// ErrEmbeddedBusy means another process (usually `avatar-sync dev up`) is running the embedded
// cluster from the same state directory. Open then connects to that process instead.
var ErrEmbeddedBusy = errors.New("embedded cluster state directory is in use by another avatar-sync process")

// Files inside a state directory. kfake owns data/; the rest is ours.
const (
	stateData      = "data"
	stateClusterID = "cluster-id"
	stateLock      = "lock"
	stateServer    = "server.json"
)

// EmbeddedOptions configure StartEmbedded. The zero value is an in-memory cluster on random
// loopback ports, which is what tests want.
type EmbeddedOptions struct {
	// StateDir persists topics, configs, offsets and the cluster id across restarts; "" keeps
	// everything in memory.
	StateDir string
	// Ports are the listener ports, one per broker (nil = random free loopback ports).
	Ports []int
	// ClusterID overrides the id (default: the one stored in StateDir, created on first start).
	ClusterID string
	// TLS, when set, makes every listener serve TLS with this config. This is the seam for the
	// certs work (issue: TLS listeners for `dev up`); plaintext is the default.
	TLS *tls.Config
	// ListenFn replaces net.Listen (e.g. to listen beyond loopback); nil = 127.0.0.1 only.
	ListenFn func(network, address string) (net.Listener, error)
	// CAFile is the trust bundle clients verify a TLS cluster with (set by ServeTLS). It is recorded
	// in the state directory so Open joins a TLS `dev up` with verification on.
	CAFile string
	// Advertise records the listeners in StateDir so other processes' Open joins this cluster
	// instead of waiting for the directory (`dev up` sets it; a short-lived plan does not).
	Advertise bool
	// ReadOnly runs the cluster on a private copy of StateDir that is discarded on Close, so
	// nothing the cluster does is saved (plan, issue 10). The directory lock is held only while
	// copying. On a fresh directory only the cluster-id file is created, so a later apply agrees
	// with the plan about the cluster's id.
	ReadOnly bool
	// AutoCreateTopics creates a topic on first use (a Metadata request that allows it, as
	// producers send), with AutoCreatePartitions partitions and min(3, brokers) replicas, as a
	// legacy cluster with auto.create.topics.enable=true does (`dev up --auto-create-topics`).
	// Off by default, like the rendered brokers.
	AutoCreateTopics bool
	// Admin, when set, makes the cluster enforce access control as the spec declares it (issue
	// 14): SASL (SCRAM-SHA-256/512) on every listener and ACL authorization, with Admin as the one
	// super user. Users and ACLs are then whatever apply creates.
	Admin *EmbeddedAdmin
}

// AutoCreatePartitions is the partition count of a topic the embedded cluster creates on first
// use (EmbeddedOptions.AutoCreateTopics): Kafka's num.partitions default.
const AutoCreatePartitions = 1

// EmbeddedAdmin is the embedded cluster's super user: the target's sasl: user and its password.
type EmbeddedAdmin struct {
	Mechanism, User, Password string
}

// Embedded is a running in-process Kafka cluster (kfake) that follows the spec's broker count.
//
// Besides serving plan/apply, it is the protocol peer of integration tests; their controls
// (request counts, failure injection) live in clusters/clustertest, not here (issue 9).
type Embedded struct {
	c        *kfake.Cluster
	caFile   string // non-empty when the listeners serve TLS
	admin    *EmbeddedAdmin
	stateDir string
	// scratch is the private copy a ReadOnly cluster runs on; removed on Close.
	scratch   string
	lock      *os.File
	clusterID string
	bootstrap []string

	closeOnce sync.Once
	closeErr  error
	// saveErrs are the failed saves kfake reported to its logger (it returns none of them).
	saveErrs saveLog
}

// saveLog collects kfake's warnings and errors about persisting state, so Close can report a
// state directory that stopped taking writes (disk full) instead of pretending all was saved.
type saveLog struct {
	mu   sync.Mutex
	errs []error
}

// Logf implements kfake.Logger.
func (l *saveLog) Logf(level kfake.LogLevel, msg string, args ...any) {
	if level > kfake.LogLevelWarn || level == kfake.LogLevelNone {
		return
	}
	for _, p := range []string{"persist", "save session state", "rebuildSegments", "compact pids.log", "compact groups.log"} {
		if strings.HasPrefix(msg, p) {
			l.mu.Lock()
			l.errs = append(l.errs, fmt.Errorf(msg, args...))
			l.mu.Unlock()
			return
		}
	}
}

func (l *saveLog) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}

// StartEmbedded starts the embedded cluster with one broker per spec broker, each with the spec's
// node id and rack (3 brokers 1..3 without racks when the spec lists none; racks default to kfake's
// "krack"). With a StateDir it takes an exclusive lock on the directory (ErrEmbeddedBusy if held)
// and reloads whatever an earlier run left there. State saved before brokers carried the spec's
// ids (their ids were 0..n-1) is read by position, the spec's first broker being the old broker
// 0, and saved with the spec's ids; state saved by other broker ids is refused (ErrBrokersChanged)
// with the command that starts afresh.
func StartEmbedded(ctx context.Context, s *spec.Spec, o EmbeddedOptions) (*Embedded, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, racks := embeddedBrokers(s)
	n := len(ids)
	if len(o.Ports) > 0 && len(o.Ports) != n {
		return nil, fmt.Errorf("embedded cluster: %d ports for %d brokers", len(o.Ports), n)
	}
	e := &Embedded{stateDir: o.StateDir, clusterID: o.ClusterID, caFile: o.CAFile, admin: o.Admin}
	opts := []kfake.Opt{kfake.BrokerIDs(ids...)}
	if racks != nil {
		opts = append(opts, kfake.BrokerRacks(racks...))
	}
	if a := o.Admin; a != nil {
		if a.Mechanism != spec.MechanismSCRAM256 && a.Mechanism != spec.MechanismSCRAM512 {
			return nil, fmt.Errorf("embedded cluster: admin mechanism %q is not SCRAM-SHA-256 or SCRAM-SHA-512", a.Mechanism)
		}
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(a.Mechanism, a.User, a.Password), kfake.EnableACLs())
	}
	if len(o.Ports) > 0 {
		opts = append(opts, kfake.Ports(o.Ports...))
	}
	if o.AutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(AutoCreatePartitions))
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	if o.ListenFn != nil {
		opts = append(opts, kfake.ListenFn(o.ListenFn))
	}
	dataDir := ""
	if o.StateDir != "" {
		var err error
		if dataDir, err = e.openState(o); err != nil {
			e.unlock()
			return nil, err
		}
		opts = append(opts, kfake.DataDir(dataDir), kfake.WithLogger(&e.saveErrs))
	}
	if e.clusterID == "" {
		e.clusterID = newClusterID()
	}
	opts = append(opts, kfake.ClusterID(e.clusterID))

	c, err := kfake.NewCluster(opts...)
	if err != nil {
		e.unlock()
		e.removeScratch()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("start embedded cluster: a port is already in use (is `avatar-sync dev up` or a Kafka broker running?): %w", err)
		}
		if errors.Is(err, kfake.ErrBrokersChanged) {
			return nil, fmt.Errorf("start embedded cluster from %s: %w; the spec's broker ids changed since this state was saved, and its partitions cannot be given to other brokers. Start afresh with `rm -rf %s` (every topic and offset in it is lost) or pass another --state-dir", o.StateDir, err, o.StateDir)
		}
		return nil, fmt.Errorf("start embedded cluster: %w", err)
	}
	e.c = c
	e.bootstrap = c.ListenAddrs()
	if o.Admin != nil {
		if err := advertiseHandshakeV0(ctx, c, o.TLS != nil); err != nil {
			e.Close()
			return nil, fmt.Errorf("start embedded cluster: %w", err)
		}
	}
	if o.StateDir != "" && !o.ReadOnly {
		// A server.json without a lock holder is left by a killed `dev up`: nobody serves it.
		_ = os.Remove(filepath.Join(o.StateDir, stateServer))
		if o.Advertise {
			if err := writeServerFile(o.StateDir, e.bootstrap, o.CAFile); err != nil {
				e.Close()
				return nil, err
			}
		}
	}
	return e, nil
}

// Bootstrap is the list of broker addresses ("127.0.0.1:port") clients dial.
func (e *Embedded) Bootstrap() []string { return append([]string(nil), e.bootstrap...) }

// ClusterID is the id the cluster reports in metadata; stable per state directory.
func (e *Embedded) ClusterID() string { return e.clusterID }

// Connect returns an Admin talking to this cluster over the loopback listeners. Closing the Admin
// does not stop the cluster.
func (e *Embedded) Connect(ctx context.Context, opts Options) (*Admin, error) {
	opts = opts.withDefaults()
	conf, err := saramaConfig(clientCluster("embedded", e.caFile), opts)
	if err != nil {
		return nil, err
	}
	if e.admin != nil {
		if err := useSASL(conf, e.admin.Mechanism, e.admin.User, e.admin.Password); err != nil {
			return nil, err
		}
	}
	return connect(ctx, "embedded", e.bootstrap, conf, opts)
}

// Close stops the cluster, flushing its state to StateDir, and releases the directory lock. It
// reports every save kfake could not make during the run or at shutdown.
func (e *Embedded) Close() error {
	e.closeOnce.Do(func() {
		e.c.Close()
		if e.scratch != "" {
			e.removeScratch()
		} else if e.stateDir != "" {
			_ = os.Remove(filepath.Join(e.stateDir, stateServer))
			if err := e.saveErrs.err(); err != nil {
				e.closeErr = fmt.Errorf("embedded cluster: state not fully saved to %s; the next run may not see the latest changes: %w", e.stateDir, err)
			}
			// kfake created its new files 0644 (unreachable below the 0700 directory); leave
			// them 0600 at rest too.
			if err := makePrivate(e.stateDir); err != nil && e.closeErr == nil {
				e.closeErr = err
			}
		}
		e.unlock()
	})
	return e.closeErr
}

// checkWritable makes sure kfake can save into dataDir before the cluster starts. kfake only logs
// a failed save, so an unwritable directory (read-only mount, another user's files) let apply
// report success and converge while nothing reached the disk: the next command found the old
// state again.
func checkWritable(dataDir string) error {
	for _, dir := range []string{dataDir, filepath.Join(dataDir, "partitions")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("embedded cluster state directory is not writable (--state-dir): %w", err)
		}
		f, err := os.CreateTemp(dir, ".write-check-*")
		if err != nil {
			return fmt.Errorf("embedded cluster state directory is not writable (--state-dir): %w", err)
		}
		f.Close()
		_ = os.Remove(f.Name())
	}
	return nil
}

// embeddedBrokers returns the node ids and racks of the spec's brokers (1..3 and no racks when the
// spec lists none; racks nil unless every broker has one, which validation requires of a spec).
func embeddedBrokers(s *spec.Spec) ([]int32, []string) {
	if s == nil || len(s.Brokers) == 0 {
		return []int32{1, 2, 3}, nil
	}
	ids := make([]int32, len(s.Brokers))
	racks := make([]string, len(s.Brokers))
	allRacks := true
	for i, b := range s.Brokers {
		ids[i], racks[i] = b.ID, b.Rack
		allRacks = allRacks && b.Rack != ""
	}
	if !allRacks {
		return ids, nil
	}
	return ids, racks
}

// openState prepares StateDir for kfake and returns the data directory kfake is to use:
//  1. lock the directory (ErrEmbeddedBusy if another process holds it);
//  2. settle the cluster id (stableClusterID);
//  3. refuse damaged state (checkState) before kfake can truncate or drop any of it;
//  4. ReadOnly: copy the state to a private scratch directory and release the lock;
//     otherwise make the directory private (0700/0600) and check kfake can write it.
func (e *Embedded) openState(o EmbeddedOptions) (string, error) {
	if err := e.lockState(); err != nil {
		return "", err
	}
	dataDir := filepath.Join(o.StateDir, stateData)
	id, err := stableClusterID(o.StateDir, o.ReadOnly)
	if err != nil {
		return "", err
	}
	if e.clusterID == "" {
		e.clusterID = id
	}
	if err := checkState(dataDir); err != nil {
		return "", err
	}
	if o.ReadOnly {
		scratch, err := os.MkdirTemp("", "avatar-sync-plan-*")
		if err != nil {
			return "", fmt.Errorf("embedded cluster: read-only copy of %s: %w", o.StateDir, err)
		}
		e.scratch = scratch
		copyDir := filepath.Join(scratch, stateData)
		if err := copyState(dataDir, copyDir); err != nil {
			e.removeScratch()
			return "", fmt.Errorf("embedded cluster: read-only copy of %s: %w", o.StateDir, err)
		}
		e.unlock()
		return copyDir, nil
	}
	if err := makePrivate(o.StateDir); err != nil {
		return "", err
	}
	if err := checkWritable(dataDir); err != nil {
		return "", err
	}
	return dataDir, nil
}

func (e *Embedded) removeScratch() {
	if e.scratch != "" {
		_ = os.RemoveAll(e.scratch)
		e.scratch = ""
	}
}

func (e *Embedded) lockState() error {
	if err := os.MkdirAll(e.stateDir, 0o700); err != nil {
		return fmt.Errorf("embedded cluster state directory (--state-dir): %w", err)
	}
	f, err := os.OpenFile(filepath.Join(e.stateDir, stateLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("embedded cluster state directory (--state-dir): %w", err)
	}
	// flock, not a pid file: the kernel drops it when the holder dies, so a crash never leaves
	// the directory locked.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := ""
			if b, rerr := os.ReadFile(f.Name()); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
				holder = fmt.Sprintf(" (pid %s)", strings.TrimSpace(string(b)))
			}
			return fmt.Errorf("%w%s: %s", ErrEmbeddedBusy, holder, e.stateDir)
		}
		return fmt.Errorf("lock %s: %w", e.stateDir, err)
	}
	// The pid is only for messages; the flock is what excludes.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	e.lock = f
	return nil
}

func (e *Embedded) unlock() {
	if e.lock != nil {
		_ = syscall.Flock(int(e.lock.Fd()), syscall.LOCK_UN)
		e.lock.Close()
		e.lock = nil
	}
}

// stableClusterID returns the state directory's cluster id, so the cluster-id guard of plan/apply
// (issue 3) sees the same embedded cluster across processes. There is one source of truth (issue
// 10): kfake's data/meta.json, which kfake writes on first start and whose id it reports in
// metadata whatever it is told. The cluster-id file only carries the id before kfake first saved
// (a plan on a fresh directory); it is rewritten when it disagrees with meta.json (not when
// readOnly) and refused when it holds anything but a Kafka cluster id.
func stableClusterID(dir string, readOnly bool) (string, error) {
	p := filepath.Join(dir, stateClusterID)
	metaPath := filepath.Join(dir, stateData, "meta.json")
	file, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read embedded cluster id: %w", err)
	}
	fileID := strings.TrimSpace(string(file))
	if b, err := os.ReadFile(metaPath); err == nil {
		var meta struct {
			ClusterID string `json:"cluster_id"`
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return "", fmt.Errorf("%w in %s: %s does not parse: %v; avatar-sync will not start on it and has changed nothing", ErrDamagedState, dir, metaPath, err)
		}
		if !validClusterID(meta.ClusterID) {
			return "", fmt.Errorf("%w in %s: %s holds cluster id %s, which is not a Kafka cluster id (22 characters of URL-safe base64)", ErrDamagedState, dir, metaPath, strconv.QuoteToASCII(meta.ClusterID))
		}
		if fileID != meta.ClusterID && !readOnly {
			if err := os.WriteFile(p, []byte(meta.ClusterID+"\n"), 0o600); err != nil {
				return "", fmt.Errorf("write embedded cluster id: %w", err)
			}
		}
		return meta.ClusterID, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read embedded cluster id: %w", err)
	}
	if fileID != "" {
		if !validClusterID(fileID) {
			return "", fmt.Errorf("%s holds %s, which is not a Kafka cluster id (22 characters of URL-safe base64); delete the file to have a new id made", p, strconv.QuoteToASCII(fileID))
		}
		return fileID, nil
	}
	id := newClusterID()
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write embedded cluster id: %w", err)
	}
	return id, nil
}

// validClusterID accepts what Kafka's kafka-storage.sh random-uuid prints: 16 bytes in 22
// characters of unpadded URL-safe base64.
func validClusterID(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil && len(b) == 16
}

// newClusterID makes an id shaped like Kafka's (22 characters of URL-safe base64 of 16 random bytes).
func newClusterID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type serverFile struct {
	Bootstrap []string `json:"bootstrap"`
	PID       int      `json:"pid"`
	// CAFile is set when the cluster serves TLS: joiners verify the brokers with it.
	CAFile string `json:"caFile,omitempty"`
}

func writeServerFile(dir string, bootstrap []string, caFile string) error {
	if caFile != "" {
		// Joiners may run from another working directory.
		if abs, err := filepath.Abs(caFile); err == nil {
			caFile = abs
		}
	}
	b, _ := json.Marshal(serverFile{Bootstrap: bootstrap, PID: os.Getpid(), CAFile: caFile})
	if err := os.WriteFile(filepath.Join(dir, stateServer), b, 0o600); err != nil {
		return fmt.Errorf("embedded cluster: %w", err)
	}
	return nil
}

// runningBootstrap reads where the process holding dir's lock serves the cluster.
func runningBootstrap(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateServer))
	if err != nil {
		return nil, fmt.Errorf("find the running embedded cluster: %w", err)
	}
	var s serverFile
	if err := json.Unmarshal(b, &s); err != nil || len(s.Bootstrap) == 0 {
		return nil, fmt.Errorf("find the running embedded cluster: %s is unreadable", filepath.Join(dir, stateServer))
	}
	return s.Bootstrap, nil
}
