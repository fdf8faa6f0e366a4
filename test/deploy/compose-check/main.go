// Loads a compose file with compose-go, the library Docker Compose itself uses,
// and prints what the test checks as JSON: for each service its image, build
// target, command, environment keys, ports, volumes, secrets and profiles.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

type port struct {
	Target    uint32 `json:"target"`
	Published string `json:"published"`
}

type service struct {
	Image       string   `json:"image"`
	BuildTarget string   `json:"build_target,omitempty"`
	Command     []string `json:"command"`
	Environment []string `json:"environment"`
	Ports       []port   `json:"ports"`
	Volumes     []string `json:"volumes"`
	Secrets     []string `json:"secrets"`
	Profiles    []string `json:"profiles"`
	ReadOnly    bool     `json:"read_only"`
	Replicas    *int     `json:"replicas,omitempty"`
	DependsOn   []string `json:"depends_on"`
	Healthcheck bool     `json:"healthcheck"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check <docker-compose.yml>")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions([]string{os.Args[1]}, cli.WithName("aispm"), cli.WithProfiles([]string{"*"}))
	if err == nil {
		err = cli.WithOsEnv(options)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := map[string]service{}
	for name, s := range project.Services {
		svc := service{Image: s.Image, Command: s.Command, Profiles: s.Profiles, ReadOnly: s.ReadOnly,
			Healthcheck: s.HealthCheck != nil && !s.HealthCheck.Disable}
		if s.Build != nil {
			svc.BuildTarget = s.Build.Target
		}
		for key := range s.Environment {
			svc.Environment = append(svc.Environment, key)
		}
		sort.Strings(svc.Environment)
		for _, p := range s.Ports {
			svc.Ports = append(svc.Ports, port{Target: p.Target, Published: p.Published})
		}
		for _, v := range s.Volumes {
			svc.Volumes = append(svc.Volumes, v.Source+":"+v.Target)
		}
		for _, sec := range s.Secrets {
			svc.Secrets = append(svc.Secrets, sec.Source)
		}
		if s.Deploy != nil && s.Deploy.Replicas != nil {
			svc.Replicas = s.Deploy.Replicas
		}
		for dep := range s.DependsOn {
			svc.DependsOn = append(svc.DependsOn, dep)
		}
		sort.Strings(svc.DependsOn)
		out[name] = svc
	}
	secrets := map[string]string{}
	for name, s := range project.Secrets {
		secrets[name] = s.File
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"services": out, "secrets": secrets}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
