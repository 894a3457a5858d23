package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTrackerOneEventPerStateChange(t *testing.T) {
	boom := errors.New("boom")
	steps := []struct {
		name string
		in   Outcome
		want Kind // "" = no event
	}{
		{"first pass in sync", Outcome{}, ""},
		{"still in sync", Outcome{}, ""},
		{"applied", Outcome{Applied: []string{"create topic a"}}, Applied},
		{"in sync after applying", Outcome{}, ""},
		{"fails", Outcome{Err: boom}, Failed},
		{"fails again", Outcome{Err: errors.New("other")}, ""},
		{"recovers", Outcome{}, Recovered},
		{"drift found", Outcome{Drift: []string{"update topic a config"}}, Drift},
		{"same drift", Outcome{Drift: []string{"update topic a config"}}, ""},
		{"more drift", Outcome{Drift: []string{"update topic a config", "create topic b"}}, Drift},
		{"drift gone", Outcome{}, ""},
		{"same drift returns", Outcome{Drift: []string{"update topic a config"}}, Drift},
		{"fails with drift known", Outcome{Err: boom}, Failed},
		{"recovers applying", Outcome{Applied: []string{"create topic b"}}, Recovered},
	}
	var tr Tracker
	for _, s := range steps {
		got, ok := tr.Next(s.in)
		if ok != (s.want != "") || got != s.want {
			t.Errorf("%s: got %q %v, want %q", s.name, got, ok, s.want)
		}
	}
}

// receiver records webhook bodies; status answers each request in turn (200 once exhausted).
type receiver struct {
	mu     sync.Mutex
	bodies []string
	status []int
	hang   chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.hang != nil {
		select {
		case <-r.hang:
		case <-req.Context().Done():
		}
		return
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	code := http.StatusOK
	if len(r.status) > 0 {
		code, r.status = r.status[0], r.status[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// TestSenderRetriesAndScrubs: a 503 is retried and the event arrives once; its body is a Slack
// message with the structured event, and the secrets are gone from every field.
func TestSenderRetriesAndScrubs(t *testing.T) {
	rec := &receiver{status: []int{http.StatusServiceUnavailable}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s := &Sender{URLs: []string{srv.URL + "/hooks/T0K3N"}, Backoff: 10 * time.Millisecond,
		Secrets: func() []string { return []string{"hunter22", "x"} }}
	s.Send(Compose(Failed, Event{Cluster: "lab", Mode: "heal", Revision: "0123456789abcdef", Subject: "bump retention",
		Error: "sasl: password hunter22 rejected", Time: time.Unix(0, 0).UTC()}))
	s.Close(10 * time.Second)

	bodies := rec.got()
	if len(bodies) != 2 {
		t.Fatalf("want the 503 attempt and one retry, got %d bodies", len(bodies))
	}
	if strings.Contains(bodies[1], "hunter22") {
		t.Errorf("secret in the body: %s", bodies[1])
	}
	var ev Event
	if err := json.Unmarshal([]byte(bodies[1]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != Failed || ev.Error != "sasl: password *** rejected" || ev.Revision != "0123456789abcdef" {
		t.Errorf("structured event: %+v", ev)
	}
	if want := "avatar-sync: reconcile of cluster lab failed at 0123456789ab (bump retention): sasl: password *** rejected"; ev.Text != want {
		t.Errorf("text %q, want %q", ev.Text, want)
	}
}

// TestSenderNeverBlocks: a receiver that never answers costs the caller nothing: Send returns at
// once even when the queue overflows, and Close gives up after its bound.
func TestSenderNeverBlocks(t *testing.T) {
	rec := &receiver{hang: make(chan struct{})}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	defer close(rec.hang)
	s := &Sender{URLs: []string{srv.URL}, Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: 10 * time.Millisecond, QueueSize: 2}
	start := time.Now()
	for i := 0; i < 100; i++ {
		s.Send(Compose(Applied, Event{Cluster: "lab"}))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("100 sends to a hanging webhook took %s", d)
	}
	start = time.Now()
	s.Close(200 * time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close waited %s for a hanging webhook", d)
	}
}

func TestCheckURLAndRedact(t *testing.T) {
	if err := CheckURL("https://hooks.slack.com/services/T/B/secret"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"hooks.slack.com/x", "ftp://h/x", "/tmp/sock"} {
		if err := CheckURL(bad); err == nil {
			t.Errorf("CheckURL(%q) accepted", bad)
		}
	}
	if got := Redact("https://hooks.slack.com/services/T/B/secret"); got != "https://hooks.slack.com/…" {
		t.Errorf("Redact = %q", got)
	}
}

// TestHangingReceiverDelaysNoOther is issue 21: with one receiver that never answers, the other
// receives every event at once, not one per time-out of the hanging one.
func TestHangingReceiverDelaysNoOther(t *testing.T) {
	hanging := &receiver{hang: make(chan struct{})}
	slow := httptest.NewServer(hanging)
	defer slow.Close()
	defer close(hanging.hang)
	fast := &receiver{}
	srv := httptest.NewServer(fast)
	defer srv.Close()
	s := &Sender{URLs: []string{slow.URL, srv.URL}, Timeout: 2 * time.Second, Attempts: 3, Backoff: time.Second}
	start := time.Now()
	for i := 0; i < 3; i++ {
		s.Send(Compose(Applied, Event{Cluster: "lab", Changes: []string{fmt.Sprint("create topic t", i)}}))
	}
	for len(fast.got()) < 3 {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("the healthy receiver got %d of 3 events in %s: the hanging one holds it up", len(fast.got()), time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Close(100 * time.Millisecond)
}

// TestRedirects is issue 21: a redirect to another host is not followed (the body stays where the
// operator sent it) and is reported; a redirect on the same host is followed.
func TestRedirects(t *testing.T) {
	elsewhere := &receiver{}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	home := &receiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		// 127.0.0.1 and localhost are different hosts to a browser and to us.
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/stolen", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/here", http.StatusPermanentRedirect)
	})
	mux.Handle("/here", home)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var logged strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(p)
	}), nil))
	s := &Sender{URLs: []string{srv.URL + "/away", srv.URL + "/moved"}, Backoff: 10 * time.Millisecond, Log: log}
	s.Send(Compose(Failed, Event{Cluster: "lab", Error: "boom"}))
	s.Close(10 * time.Second)
	if got := elsewhere.got(); len(got) != 0 {
		t.Errorf("the body followed a redirect to another host: %q", got)
	}
	if got := home.got(); len(got) != 1 || !strings.Contains(got[0], "boom") {
		t.Errorf("a same-host redirect was not followed with the body: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logged.String(), "redirects to another host") || strings.Count(logged.String(), "notification not delivered") != 1 {
		t.Errorf("the refused redirect is not logged once:\n%s", logged.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestScrubHidesURLUserinfo is issue 21: a token written as a URL's user name
// (https://<token>@host/…) never reaches a webhook body, whatever field quotes it.
func TestScrubHidesURLUserinfo(t *testing.T) {
	rec := &receiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s := &Sender{URLs: []string{srv.URL}}
	s.Send(Compose(Failed, Event{Cluster: "lab", Subject: "see https://ghp_SUBJ3CT@github.com/x",
		Error: "fetch branch main of https://ghp_T0KEN@github.com/lab.git: repository 'https://ghp_T0KEN@github.com/lab.git/' not found"}))
	s.Close(10 * time.Second)
	got := rec.got()
	if len(got) != 1 {
		t.Fatalf("got %d bodies", len(got))
	}
	if strings.Contains(got[0], "ghp_") || !strings.Contains(got[0], "https://***@github.com/lab.git") {
		t.Errorf("body shows a URL's user information: %s", got[0])
	}
}

func TestRedactUserinfo(t *testing.T) {
	tests := map[string]string{
		"https://tok@h/x":                   "https://***@h/x",
		"a https://u:p@h/x b ssh://git@h/y": "a https://***@h/x b ssh://***@h/y",
		"mail me: someone@example.org":      "mail me: someone@example.org",
		"https://h/x?u=a@b":                 "https://h/x?u=a@b",
		"'https://tok@h/x'":                 "'https://***@h/x'",
	}
	for in, want := range tests {
		if got := RedactUserinfo(in); got != want {
			t.Errorf("RedactUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
