// Package config reads the settings a function gets from template.yaml
// through its environment.
package config

import (
	"fmt"
	"sort"
	"strings"
)

// Require returns the values of names from getenv (os.Getenv in main). When
// any is empty it fails with one error naming every missing variable, so
// that a broken deployment is fixed in one go, not one variable per start.
func Require(getenv func(string) string, names ...string) (map[string]string, error) {
	values := make(map[string]string, len(names))
	var missing []string
	for _, n := range names {
		v := getenv(n)
		if v == "" {
			missing = append(missing, n)
			continue
		}
		values[n] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("not set: %s", strings.Join(missing, ", "))
	}
	return values, nil
}
