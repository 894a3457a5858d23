package spec

import (
	"fmt"
	"strings"
)

// Suggest returns the candidate closest to word by edit distance, or "" when none is close enough to
// be a plausible typo (at most a third of the word's length in edits, and always 2). Comparison
// ignores case, so "Retention" suggests "retention". Plugins use it for their parameters' "did you
// mean", commands for flag values such as --cluster.
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

// levenshtein is the edit distance between a and b (insertions, deletions, substitutions), on bytes:
// keys in avatar.yaml are ASCII, and for anything else the distance is merely pessimistic.
func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Long strings are never typos of our short keys; skip the quadratic work (fuzzing finds this).
		return max(len(a), len(b))
	}
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
