package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// auditPolicy logs every request once, when its response is complete, at level Metadata (who,
// what, which object; no bodies, so no Secret value reaches the log).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`

// Request is one request the audit log recorded.
type Request struct {
	Verb      string
	URI       string
	UserAgent string
	// Resource is the object's resource ("statefulsets", with "/status" for a subresource),
	// empty for a non-resource URL such as discovery.
	Resource  string
	Namespace string
	Name      string
	Code      int
}

// String is "patch statefulsets ns/kafka-broker-1 200", or the URI for a non-resource URL.
func (r Request) String() string {
	if r.Resource == "" {
		return fmt.Sprintf("%s %s %d", r.Verb, r.URI, r.Code)
	}
	what := r.Name
	if r.Namespace != "" {
		what = r.Namespace + "/" + r.Name
	}
	return fmt.Sprintf("%s %s %s %d", r.Verb, r.Resource, strings.TrimSuffix(what, "/"), r.Code)
}

// auditEvent is the part of an audit.k8s.io/v1 Event a count needs.
type auditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	ObjectRef  *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// AuditMark is where the audit log ends now: Requests(mark, ...) reads what is logged after it.
// The server must have been started with Options.Audit.
func (s *Server) AuditMark(t testingT) int64 {
	t.Helper()
	s.flushAudit(t)
	fi, err := os.Stat(s.AuditLog)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return fi.Size()
}

// testingT is what the audit helpers need of a test or benchmark.
type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Requests lists the requests logged after mark whose user agent starts with userAgent, in order.
// Health probes (/healthz, /livez, /readyz) are left out for every client alike.
func (s *Server) Requests(t testingT, mark int64, userAgent string) []Request {
	t.Helper()
	s.flushAudit(t)
	f, err := os.Open(s.AuditLog)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, io.SeekStart); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	var out []Request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if ev.Stage != "ResponseComplete" || !strings.HasPrefix(ev.UserAgent, userAgent) || isHealth(ev.RequestURI) {
			continue
		}
		r := Request{Verb: ev.Verb, URI: ev.RequestURI, UserAgent: ev.UserAgent}
		if ev.ObjectRef != nil {
			r.Resource, r.Namespace, r.Name = ev.ObjectRef.Resource, ev.ObjectRef.Namespace, ev.ObjectRef.Name
			if ev.ObjectRef.Subresource != "" {
				r.Resource += "/" + ev.ObjectRef.Subresource
			}
		}
		if ev.ResponseStatus != nil {
			r.Code = ev.ResponseStatus.Code
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return out
}

func isHealth(uri string) bool {
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if uri == p || strings.HasPrefix(uri, p+"?") || strings.HasPrefix(uri, p+"/") {
			return true
		}
	}
	return false
}

// markerAgent is the user agent of flushAudit's own request, which no count includes.
const markerAgent = "kubetest-audit-marker"

// flushAudit makes sure every request answered so far is in the log: the log backend writes an
// event once the response is complete, which can be just after the client got it. It sends a
// request of its own and waits (bounded) until the log holds it.
func (s *Server) flushAudit(t testingT) {
	t.Helper()
	if s.AuditLog == "" {
		t.Fatalf("the API server was started without Options.Audit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := randomHex(8)
	if err != nil {
		t.Fatalf("audit marker: %v", err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/version?marker="+id, nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("User-Agent", markerAgent)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("audit marker: %v", err)
	}
	resp.Body.Close()
	for {
		b, err := os.ReadFile(s.AuditLog)
		if err == nil && bytes.Contains(b, []byte("marker="+id)) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the audit log did not record the marker request within 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
