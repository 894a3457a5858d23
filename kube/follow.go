package kube

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/avatar-project/avatar-sync/plans"
)

// follower reads the workloads of one kind in the target namespace while an apply rolls them
// (issue 23): one LIST, then one WATCH for the whole roll, instead of a GET of every other broker
// before each restart and a GET every interval while waiting. Without the right to list or watch
// (the watch daemon's Role grants get by name), or once the watch ends or fails, it reads each
// object by GET and polls at the interval.
type follower struct {
	c *Client

	mu      sync.Mutex
	polling bool
	// objs are the objects as the watch last reported them, by name.
	objs map[string]*unstructured.Unstructured
	// applied are the objects as this apply's own writes returned them: a watch event older than
	// one (a lower generation, or the object a replace deleted) is not yet news of it.
	applied map[string]*unstructured.Unstructured
	// notify is closed at the next watch event.
	notify chan struct{}
	stop   context.CancelFunc
	done   chan struct{}
}

// follow starts following the objects of kind apiVersion/kind in ns.
func (c *Client) follow(ctx context.Context, ns, apiVersion, kind string) *follower {
	f := &follower{c: c, objs: map[string]*unstructured.Unstructured{}, applied: map[string]*unstructured.Unstructured{},
		notify: make(chan struct{}), stop: func() {}, done: make(chan struct{})}
	gk := groupOf(apiVersion) + "/" + kind
	if c.cannotList(gk) {
		return f.poll()
	}
	list, err := c.list(ctx, ns, apiVersion, kind)
	if err != nil {
		if apierrors.IsForbidden(err) {
			c.mu.Lock()
			c.listForbidden[gk] = true
			c.mu.Unlock()
		}
		return f.poll()
	}
	for i := range list.Items {
		it := &list.Items[i]
		f.objs[it.GetName()] = it
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := c.watch(wctx, ns, apiVersion, kind, list.GetResourceVersion())
	if err != nil {
		cancel()
		return f.poll()
	}
	f.stop = cancel
	go f.run(w)
	return f
}

// poll makes f read by GET from now on.
func (f *follower) poll() *follower {
	f.polling = true
	close(f.done)
	return f
}

func (f *follower) run(w watch.Interface) {
	defer close(f.done)
	defer w.Stop()
	for ev := range w.ResultChan() {
		u, _ := ev.Object.(*unstructured.Unstructured)
		f.mu.Lock()
		switch {
		case ev.Type == watch.Error:
			f.polling = true
		case u == nil:
		case ev.Type == watch.Added, ev.Type == watch.Modified:
			f.objs[u.GetName()] = u
		case ev.Type == watch.Deleted:
			delete(f.objs, u.GetName())
		}
		polling := f.polling
		close(f.notify)
		f.notify = make(chan struct{})
		f.mu.Unlock()
		if polling {
			return
		}
	}
	// The server ended the watch (or the roll is over): read by GET from now on.
	f.mu.Lock()
	f.polling = true
	close(f.notify)
	f.notify = make(chan struct{})
	f.mu.Unlock()
}

// close stops the watch.
func (f *follower) close() {
	f.stop()
	<-f.done
}

// wrote records what the server returned for this apply's write of an object.
func (f *follower) wrote(u *unstructured.Unstructured) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied[u.GetName()] = u
}

// get is the object as last known, nil when absent.
func (f *follower) get(ctx context.Context, ref plans.ObjectRef) (*unstructured.Unstructured, error) {
	f.mu.Lock()
	if !f.polling {
		u, mine := f.objs[ref.Name], f.applied[ref.Name]
		f.mu.Unlock()
		if mine != nil && (u == nil || u.GetUID() != mine.GetUID() || u.GetGeneration() < mine.GetGeneration()) {
			return mine, nil
		}
		return u, nil
	}
	f.mu.Unlock()
	return f.c.get(ctx, ref)
}

// wait returns at the next watch event (after interval while polling) or when ctx ends.
func (f *follower) wait(ctx context.Context, interval time.Duration) {
	f.mu.Lock()
	polling, notify := f.polling, f.notify
	f.mu.Unlock()
	if polling {
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
		return
	}
	select {
	case <-ctx.Done():
	case <-notify:
	}
}
