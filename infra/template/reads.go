package template

import (
	"slices"
	"strings"
)

// LambdaSets reports whether Lambda itself sets the environment variable
// name in every function (region, credentials, runtime, logging:
// AWS_REGION, AWS_LAMBDA_LOG_FORMAT, _HANDLER, LAMBDA_TASK_ROOT ...).
// Lambda reserves these names, so a template never declares them.
func LambdaSets(name string) bool {
	return strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "LAMBDA_") || strings.HasPrefix(name, "_")
}

// CheckReads compares the variables a function read at start with what the
// template gives it. Undeclared are the names it read that its environment
// lacks, Lambda's own aside. Unread are the names the function's own
// Environment declares (not the Globals every function shares) that it
// never read, but for the settings of the secrets extension of a function
// that has it, which the extension reads. Both come back sorted; an unknown function has declared
// nothing.
func (t *Template) CheckReads(functionID string, reads []string) (undeclared, unread []string) {
	env := map[string]string{}
	extension := false
	if f, ok := t.Functions[functionID]; ok {
		env = f.Environment
		extension = f.HasSecretsExtension()
	}
	for _, name := range reads {
		if _, ok := env[name]; !ok && !LambdaSets(name) && !slices.Contains(undeclared, name) {
			undeclared = append(undeclared, name)
		}
	}
	for name := range env {
		if extension && ExtensionReads(name) {
			continue // the secrets extension's settings, which it reads
		}
		if _, global := t.GlobalEnvironment[name]; !global && !slices.Contains(reads, name) {
			unread = append(unread, name)
		}
	}
	slices.Sort(undeclared)
	slices.Sort(unread)
	return undeclared, unread
}
