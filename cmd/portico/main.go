// Command portico is Portico's single binary: gateway, validation and
// (later) manager and CLI verbs. All the work is in internal/cli.
package main

import (
	"os"

	"github.com/portico-api/portico/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
