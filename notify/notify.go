// Package notify posts the watch daemon's state changes to webhooks (issue 12): drift found,
// changes applied, a pass failed, the daemon recovered. The body is a Slack/Mattermost incoming
// webhook message (its "text" field) that also carries the structured event, so one URL serves a
// chat channel and a program alike.
//
// Delivery never blocks a pass: events go through a bounded queue per webhook URL to that URL's
// own sender goroutine, so a hanging receiver delays only itself (issue 21); each POST has a
// time-out and is retried with back-off, and a full queue drops its oldest event with a log line
// rather than making the daemon wait for a slow receiver. A redirect is followed only to the same
// host: the body never goes anywhere the operator did not name.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Kind is what changed.
type Kind string

const (
	// Drift: a report-mode pass found the cluster differing from the spec (or the difference changed).
	Drift Kind = "drift"
	// Applied: a heal-mode pass changed the cluster.
	Applied Kind = "applied"
	// Failed: a pass failed after one that did not.
	Failed Kind = "failed"
	// Recovered: a pass succeeded after a failed one.
	Recovered Kind = "recovered"
)

// Event is the JSON body posted to every webhook.
type Event struct {
	// Text is the one-line message a Slack or Mattermost incoming webhook shows.
	Text    string    `json:"text"`
	Event   Kind      `json:"event"`
	Cluster string    `json:"cluster"`
	Mode    string    `json:"mode"`
	Time    time.Time `json:"time"`
	// Revision and Subject are the git commit the pass reconciled (watch --git), else empty.
	Revision string `json:"revision,omitempty"`
	Subject  string `json:"subject,omitempty"`
	// Changes are the headlines of the changes applied (applied, recovered) or found (drift).
	Changes []string `json:"changes,omitempty"`
	// Error is the failed pass's error (failed).
	Error string `json:"error,omitempty"`
}

// Outcome is what one finished pass found, as the daemon tells the Tracker.
type Outcome struct {
	Err error
	// Drift are the pending changes of a pass that does not apply them (report mode).
	Drift []string
	// Applied are the changes a pass applied.
	Applied []string
}

// Tracker turns a sequence of pass outcomes into state changes: one event per change of state,
// none for a pass that only repeats the previous one's state. It is a pure state machine, so the
// rules are table-tested apart from delivery.
type Tracker struct {
	failed bool
	drift  string // the last drift found, joined; "" = none
}

// Next returns the event kind the outcome is, and false when it changes nothing:
//
//   - a failure after a pass that did not fail is Failed; repeated failures are silent;
//   - a success after a failure is Recovered (with what it applied or found);
//   - otherwise a pass that applied changes is Applied;
//   - otherwise drift that differs from the last drift reported is Drift.
func (t *Tracker) Next(o Outcome) (Kind, bool) {
	if o.Err != nil {
		if t.failed {
			return "", false
		}
		t.failed = true
		return Failed, true
	}
	drift := strings.Join(o.Drift, "\n")
	wasFailed, lastDrift := t.failed, t.drift
	t.failed, t.drift = false, drift
	switch {
	case wasFailed:
		return Recovered, true
	case len(o.Applied) > 0:
		return Applied, true
	case drift != "" && drift != lastDrift:
		return Drift, true
	}
	return "", false
}

// Sender delivers events to URLs.
type Sender struct {
	URLs []string
	// Timeout bounds one POST (default 5s); Attempts per URL (default 3) with Backoff doubling
	// between them (default 1s).
	Timeout  time.Duration
	Attempts int
	Backoff  time.Duration
	// Secrets returns the values no event may contain (keystore and SASL passwords, the git URL's
	// password); each is replaced by *** in every field before sending.
	Secrets func() []string
	Log     *slog.Logger
	// QueueSize bounds the events waiting for delivery to each URL (default 32).
	QueueSize int

	once      sync.Once
	receivers []*receiverQueue
	stop      context.CancelFunc
}

// receiverQueue is one URL's own queue and sender goroutine (issue 21): a receiver that hangs
// delays only its own events, never another receiver's.
type receiverQueue struct {
	url   string
	queue chan Event
	done  chan struct{}
}

// errCrossHost refuses a redirect to another host: the body (the cluster's state, the pass's
// errors) goes only where the operator pointed it (issue 21).
var errCrossHost = errors.New("the webhook redirects to another host; not followed")

func (s *Sender) start() {
	s.once.Do(func() {
		size := s.QueueSize
		if size <= 0 {
			size = 32
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		client := &http.Client{Timeout: s.timeout(), CheckRedirect: sameHostRedirect}
		for _, u := range s.URLs {
			r := &receiverQueue{url: u, queue: make(chan Event, size), done: make(chan struct{})}
			s.receivers = append(s.receivers, r)
			go s.deliverAll(ctx, client, r)
		}
	})
}

// sameHostRedirect follows at most 3 redirects, each to the same scheme and host as the request
// it answers; anything else is errCrossHost.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return errCrossHost
	}
	if len(via) >= 3 {
		return errors.New("the webhook redirects more than 3 times; not followed")
	}
	return nil
}

// Send queues ev for every URL and returns at once. A full queue drops its oldest event.
func (s *Sender) Send(ev Event) {
	if len(s.URLs) == 0 {
		return
	}
	s.start()
	ev = s.scrub(ev)
	for _, r := range s.receivers {
		s.push(r, ev)
	}
}

// push queues ev for one receiver, dropping that receiver's oldest event while its queue is full.
func (s *Sender) push(r *receiverQueue, ev Event) {
	for {
		select {
		case r.queue <- ev:
			return
		default:
		}
		select {
		case old := <-r.queue:
			s.logger().Warn("notification queue full; dropped the oldest event", "url", Redact(r.url), "event", string(old.Event), "time", old.Time)
		default:
		}
	}
}

// Close delivers what is queued, waiting at most wait in all (not per receiver), then stops the
// sender.
func (s *Sender) Close(wait time.Duration) {
	if s.receivers == nil {
		return
	}
	for _, r := range s.receivers {
		close(r.queue)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for _, r := range s.receivers {
		select {
		case <-r.done:
		case <-deadline.C:
			s.stop()
			for _, r := range s.receivers {
				<-r.done
			}
			s.logger().Warn("stopped with notifications undelivered", "waited", wait.String())
			return
		}
	}
	s.stop()
}

func (s *Sender) deliverAll(ctx context.Context, client *http.Client, r *receiverQueue) {
	defer close(r.done)
	for ev := range r.queue {
		body, err := json.Marshal(ev)
		if err != nil {
			s.logger().Error("encode notification", "err", err)
			continue
		}
		if err := s.post(ctx, client, r.url, body); err != nil {
			s.logger().Error("notification not delivered", "url", Redact(r.url), "event", string(ev.Event), "err", err)
		}
	}
}

// post tries one URL up to Attempts times; a 4xx other than 408/429 is final (retrying the same
// body cannot fix it).
func (s *Sender) post(ctx context.Context, client *http.Client, u string, body []byte) error {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (after %d attempts)", last, i)
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		var final bool
		final, last = s.postOnce(ctx, client, u, body)
		if last == nil || final {
			return last
		}
	}
	return fmt.Errorf("%w (after %d attempts)", last, attempts)
}

func (s *Sender) postOnce(ctx context.Context, client *http.Client, u string, body []byte) (final bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return true, fmt.Errorf("build the request for %s: invalid URL", Redact(u))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "avatar-sync-watch")
	resp, err := client.Do(req)
	if err != nil {
		// url.Error quotes the whole URL; webhook URLs carry their token in the path.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return errors.Is(err, errCrossHost), err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return true, nil
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
	return !retry, fmt.Errorf("webhook answered %s", resp.Status)
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 5 * time.Second
}

func (s *Sender) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// scrub replaces every secret, and the user information of every URL, in every text field of ev.
func (s *Sender) scrub(ev Event) Event {
	var known []string
	if s.Secrets != nil {
		known = s.Secrets()
	}
	clean := Scrubber(known)
	ev.Text, ev.Error, ev.Subject, ev.Cluster = clean(ev.Text), clean(ev.Error), clean(ev.Subject), clean(ev.Cluster)
	changes := make([]string, len(ev.Changes))
	for i, c := range ev.Changes {
		changes[i] = clean(c)
	}
	if ev.Changes != nil {
		ev.Changes = changes
	}
	return ev
}

// Scrubber returns the one cleaning every text the daemon sends or shows goes through (webhook
// bodies, the status page, the pass journal): each secret becomes *** and so does the user
// information of every URL. A secret shorter than 3 characters is left alone: it would blank out
// ordinary words, and such a password is no secret anyway.
func Scrubber(secrets []string) func(string) string {
	var kept []string
	for _, v := range secrets {
		if len(v) >= 3 {
			kept = append(kept, v)
		}
	}
	return func(x string) string {
		for _, v := range kept {
			x = strings.ReplaceAll(x, v, "***")
		}
		return RedactUserinfo(x)
	}
}

// userinfo matches the user information of a URL in free text: scheme://<userinfo>@.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s"']+@`)

// RedactUserinfo hides the user information of every URL in text (https://<token>@host/… becomes
// https://***@host/…): a user name can be the token itself (issue 21), and an error quoting a URL
// must not carry it to a log or a webhook.
func RedactUserinfo(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return userinfo.ReplaceAllString(text, "${1}***@")
}

// Redact shows a webhook URL as scheme://host/… only: Slack and Mattermost put the webhook's
// secret token in the path, so the full URL never goes to a log.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(webhook URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// CheckURL refuses what cannot be a webhook: it must be an absolute http or https URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook %s (--notify or $AVATAR_SYNC_NOTIFY): want an http:// or https:// URL", Redact(raw))
	}
	return nil
}

// Compose fills in ev.Event and the chat text from the structured fields.
func Compose(kind Kind, ev Event) Event {
	ev.Event = kind
	at := ""
	if ev.Revision != "" {
		short := ev.Revision
		if len(short) > 12 {
			short = short[:12]
		}
		at = fmt.Sprintf(" at %s (%s)", short, ev.Subject)
	}
	list := func(verb string) string {
		if len(ev.Changes) == 0 {
			return ""
		}
		return fmt.Sprintf("; %s %d change(s): %s", verb, len(ev.Changes), strings.Join(ev.Changes, "; "))
	}
	switch kind {
	case Drift:
		ev.Text = fmt.Sprintf("avatar-sync: cluster %s differs from the spec%s (report mode, nothing applied)%s", ev.Cluster, at, list("pending"))
	case Applied:
		ev.Text = fmt.Sprintf("avatar-sync: cluster %s reconciled%s%s", ev.Cluster, at, list("applied"))
	case Failed:
		ev.Text = fmt.Sprintf("avatar-sync: reconcile of cluster %s failed%s: %s", ev.Cluster, at, ev.Error)
	case Recovered:
		verb := "applied"
		if ev.Mode == "report" {
			verb = "pending"
		}
		ev.Text = fmt.Sprintf("avatar-sync: cluster %s recovered%s%s", ev.Cluster, at, list(verb))
	}
	return ev
}
