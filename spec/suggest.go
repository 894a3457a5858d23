package spec

import (
	"fmt"
	"strings"
)

// Suggest returns the candidate closest to word by edit distance, or "" when none is close enough to
// be a plausible typo (at most a third of the word's length in edits, and always 2, so "tsl" finds
// "tls"). Comparison ignores case, so "Retention" suggests "retention". It is the one "did you mean"
// of avatar-sync (issue 9): spec keys and enum values, --cluster (Spec.Target), device names, the
// built-in plugins' kinds and parameters all use it. The loader's closeTypo is deliberately stricter,
// for one question only: whether an unknown device key is a typo or a plugin parameter.
func Suggest(word string, candidates []string) string {
	best, bestDist := "", -1
	w := strings.ToLower(word)
	limit := max(len(w)/3, 2)
	for _, c := range candidates {
		d := levenshtein(w, strings.ToLower(c))
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean is Suggest rendered as the tail of an error message ("" when there is no suggestion).
func didYouMean(word string, candidates []string) string {
	if s := Suggest(word, candidates); s != "" && s != word {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// levenshtein is the edit distance between a and b (insertions, deletions, substitutions), counted
// in runes so that a non-ASCII letter is one edit.
func levenshtein(sa, sb string) int {
	if len(sa) > 64 || len(sb) > 64 {
		// Long strings are never typos of our short keys; skip the quadratic work (fuzzing finds this).
		return max(len(sa), len(sb))
	}
	a, b := []rune(sa), []rune(sb)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
