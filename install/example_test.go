package install_test

import (
	"fmt"

	"github.com/gomplab/gomplab/install"
)

func ExampleNewSpec() {
	spec := install.NewSpec("/usr/local/bin/gomplab")
	fmt.Println(spec.Argv, spec.DisplayName, spec.Language, spec.InterruptMode)
	// Output: [/usr/local/bin/gomplab kernel -f {connection_file}] Go (gomplab) go message
}
