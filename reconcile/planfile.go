package reconcile

import (
	"errors"
)

// ErrStalePlan is matched by the error Apply returns when the live state changed after the plan
// was computed.
var ErrStalePlan = errors.New("stale plan")
