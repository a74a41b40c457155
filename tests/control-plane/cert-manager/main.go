// The cert-manager controller of primary-all's operator test: cert-manager's
// own control loops (the Certificate, CertificateRequest and Issuer
// controllers and the self-signed issuer, all from the pinned module), run in
// one process against the cluster a kubeconfig names.
//
// Only the wiring is ours, because cert-manager's `main` cannot be required
// (see go.mod). It is kept small on purpose: it sets the same options
// cert-manager's controller sets from its flags, under the same flag names,
// and has no leader election, webhook, metrics or health server, none of
// which a test on one cluster needs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Each of these registers its control loops with controllerpkg.Known()
	// (or its issuer with the issuer factory) when it is imported.
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// What a self-signed Certificate needs, by cert-manager's controller names:
// the Certificate loops, the approver (a CertificateRequest is signed only
// once approved), the self-signed signer, and the Issuer loop that makes an
// Issuer Ready.
const defaultControllers = "certificates-trigger,certificates-key-manager," +
	"certificates-request-manager,certificates-issuing,certificates-readiness," +
	"certificates-revision-manager,certificaterequests-approver," +
	"certificaterequests-issuer-selfsigned,issuers"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager-controller: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	klog.InitFlags(flag.CommandLine)
	var opts controllerpkg.ContextOptions
	flag.StringVar(&opts.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"),
		"the kubeconfig of the cluster to reconcile")
	flag.StringVar(&opts.Namespace, "namespace", "",
		"watch only this namespace (all namespaces when empty)")
	flag.StringVar(&opts.ClusterResourceNamespace, "cluster-resource-namespace", "kube-system",
		"where ClusterIssuers keep their Secrets")
	flag.BoolVar(&opts.EnableOwnerRef, "enable-certificate-owner-ref", false,
		"make each Certificate an owner of the Secret it writes")
	controllers := flag.String("controllers", defaultControllers,
		"comma-separated cert-manager controller names to run")
	flag.Parse()

	// cert-manager's defaults for the options it sets from its configuration.
	opts.KubernetesAPIQPS = 20
	opts.KubernetesAPIBurst = 50
	opts.CertificateRequestMinimumBackoffDuration = time.Hour
	opts.CertificateRequestMaximumBackoffDuration = 32 * time.Hour

	logf.InitLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager-controller")

	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("failed to build the controller context: %w", err)
	}

	// Constructing a controller registers its informers with the shared
	// factories, so every controller is built before any factory starts.
	known := controllerpkg.Known()
	names := strings.Split(*controllers, ",")
	var loops []controllerpkg.Interface
	for _, name := range names {
		constructor, ok := known[name]
		if !ok {
			return fmt.Errorf("no controller named %q (this build has %s)", name, knownNames(known))
		}
		loop, err := constructor(factory)
		if err != nil {
			return fmt.Errorf("failed to construct controller %q: %w", name, err)
		}
		loops = append(loops, loop)
	}

	shared, err := factory.Build()
	if err != nil {
		return fmt.Errorf("failed to build the shared informers: %w", err)
	}
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())

	klog.InfoS("starting cert-manager controllers", "controllers", names, "namespace", opts.Namespace)
	var wg sync.WaitGroup
	for i, loop := range loops {
		wg.Go(func() {
			if err := loop.Run(5, ctx); err != nil {
				klog.ErrorS(err, "controller stopped", "controller", names[i])
			}
		})
	}
	wg.Wait()
	return nil
}

func knownNames(known map[string]controllerpkg.Constructor) string {
	var names []string
	for name := range known {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}
