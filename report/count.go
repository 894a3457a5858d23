package report

import "fmt"

// Count renders "1 error", "3 errors": the plural every view and command message uses.
func Count(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
