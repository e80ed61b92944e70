// compose-check loads a Compose file the way Docker Compose v2 does (compose-go is the loader
// `docker compose` itself uses) and fails with the loader's error when the file is not a valid
// Compose project. No Docker engine is needed, so the tests can run it anywhere.
//
//	compose-check [-o json] docker/compose.yaml
//
// With -o json the normalized project (paths resolved, variables interpolated, defaults
// filled in) is printed, so a test can assert facts about the stack without parsing YAML
// itself and without guessing how Compose would read it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	output := flag.String("o", "", "print the loaded project: json or yaml (default: nothing)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [-o json|yaml] compose.yaml\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *output); err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
}

func run(file, output string) error {
	options, err := cli.NewProjectOptions(
		[]string{file},
		// Variables come from the caller's environment, as with `docker compose`; the tests
		// pass an almost empty one, so the file must work with the defaults it declares.
		cli.WithEnv(os.Environ()),
		// Every check Compose makes before it starts anything: the compose-spec JSON schema,
		// interpolation, path resolution relative to the file, normalization, and consistency
		// (depends_on, networks, volumes and configs that services name must exist).
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}

	var out []byte
	switch output {
	case "":
		return nil
	case "json":
		out, err = project.MarshalJSON()
	case "yaml":
		out, err = project.MarshalYAML()
	default:
		return fmt.Errorf("unknown output format %q (json or yaml)", output)
	}
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}
