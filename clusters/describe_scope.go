package clusters

import (
	"context"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// DescribeScope reads back only part of the live state: what an apply changed (reconcile's
// settle, issue 23). One Metadata request for the named topics (and the inventory topic), one
// DescribeConfigs asking each topic for only the named config keys (up to describeConfigsBatch
// topics a request), and the inventory and access control when the scope asks for them, read
// beside the configs as Describe reads them. A named topic that does not exist is left out of
// Live.Topics. Describe reads everything; at 10,000 topics a config change's settle read carries
// two config entries a topic instead of ~35. Both are Admin.read (issue 20).
func (a *Admin) DescribeScope(ctx context.Context, scope reconcile.ReadScope) (plans.Live, error) {
	live, _, err := a.read(ctx, &scope)
	return live, err
}
