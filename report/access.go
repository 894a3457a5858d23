package report

import (
	"strconv"

	"github.com/avatar-project/avatar-sync/plans"
)

// Keys of an access change's flattened form (issue 14).
const (
	KeyPassword   = "password"
	KeyMechanism  = "mechanism"
	KeyIterations = "iterations"
)

// accessFields flattens ACL, user and quota payloads. A user's password is always
// reconcile.Sensitive: views never print a password, its fingerprint or its length.
func accessFields(c plans.Change, before, after map[string]string) {
	side := after
	if c.Action == plans.Delete || c.Action == plans.NoOp {
		side = before
	}
	switch {
	case c.ACL != nil:
		// The headline is the whole binding ("User:gui5 allow Write on topic eeg"): one line per
		// ACL reads like a topic change, six keys per ACL buried the plan.
	case c.User != nil:
		side[KeyMechanism] = c.User.Mechanism
		if c.User.Iterations > 0 {
			side[KeyIterations] = strconv.Itoa(c.User.Iterations)
		}
		switch c.Action {
		case plans.Create:
			after[KeyPassword] = plans.Sensitive
		case plans.Update, plans.Unsupported:
			before[KeyPassword], after[KeyPassword] = plans.Sensitive, plans.Sensitive+" (new)"
		}
	case c.Quota != nil:
		for k, v := range c.Quota.Before {
			before[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		for k, v := range c.Quota.After {
			after[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
}
