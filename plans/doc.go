// Package plans is the plan as pure data (issue 20, like terraform's internal/plans): what a plan
// is, and nothing that computes one or carries it out. It holds the change enums (Action, Kind,
// Risk, PlaneID), Change with one typed payload per kind, the kind table every per-kind decision
// reads (kinds.go), the Desired snapshot a plan is computed from and the observed Live state it is
// computed against, a fleet's Run of TargetPlans and its one file encoding (WriteRun, ReadRun), and
// the data apply reports (Result, Event). It imports only the standard library, spec and topics;
// reconcile diffs, verifies and applies plans, report draws them.
package plans
