package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclFlags are kafka-acls' resource, principal and operation options.
type aclFlags struct {
	allow, deny       []string
	hosts             []string
	ops               []string
	topics, groups    []string
	txnIDs            []string
	cluster           bool
	pattern           string
	streamsApp        string
	streamsIn, strOut []string
}

func (f *aclFlags) register(cmd *cobra.Command, create bool) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.allow, "allow-principal", nil, "principal to allow, e.g. User:alice (repeatable)")
	fl.StringArrayVar(&f.deny, "deny-principal", nil, "principal to deny (repeatable)")
	fl.StringArrayVar(&f.hosts, "host", nil, "host the rule applies to (default: any, *)")
	fl.StringArrayVar(&f.ops, "operation", nil, "Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable)")
	fl.StringArrayVar(&f.topics, "topic", nil, "topic name, or prefix with --resource-pattern-type prefixed (repeatable)")
	fl.StringArrayVar(&f.groups, "group", nil, "consumer group (repeatable)")
	fl.StringArrayVar(&f.txnIDs, "transactional-id", nil, "transactional id (repeatable)")
	fl.BoolVar(&f.cluster, "cluster", false, "the cluster resource")
	fl.StringVar(&f.pattern, "resource-pattern-type", "literal", "literal or prefixed (list and remove also take any and match)")
	if create {
		fl.StringVar(&f.streamsApp, "streams-app", "", "grant what a Kafki (Kafka Streams) application with this application id needs, to --allow-principal")
		fl.StringArrayVar(&f.streamsIn, "input", nil, "with --streams-app: a topic the application reads (repeatable)")
		fl.StringArrayVar(&f.strOut, "output", nil, "with --streams-app: a topic the application writes (repeatable)")
	}
}

func (a *app) aclsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acls",
		Short: "List, add and remove ACLs (as kafka-acls does)",
		Long: `acls manages the access control lists of a cluster that enforces them
(kafki broker --acls, or Kafka with an authorizer). Connect as a superuser
with --command-config. Principals are User:NAME.`,
		Example: `  kafki acls add --allow-principal User:alice --operation Read --operation Describe --topic orders
  kafki acls add --allow-principal User:alice --operation All --topic wordcount- --resource-pattern-type prefixed
  kafki acls add --allow-principal User:alice --streams-app wordcount --input text --output counts
  kafki acls list --topic orders
  kafki acls remove --allow-principal User:alice --topic orders`,
	}
	var add, rm, ls aclFlags
	addCmd := &cobra.Command{
		Use: "add", Short: "Add ACLs", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.aclsAdd(cmd.Context(), &add) },
	}
	add.register(addCmd, true)
	rmCmd := &cobra.Command{
		Use: "remove", Short: "Remove the ACLs that match", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.aclsRemove(cmd.Context(), &rm) },
	}
	rm.register(rmCmd, false)
	lsCmd := &cobra.Command{
		Use: "list", Short: "List ACLs (all, or those matching the filters)", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.aclsList(cmd.Context(), &ls) },
	}
	ls.register(lsCmd, false)
	lsCmd.Flags().Lookup("resource-pattern-type").DefValue = "any"
	lsCmd.Flags().Set("resource-pattern-type", "any")
	cmd.AddCommand(addCmd, rmCmd, lsCmd)
	return cmd
}

// builder turns the flags into a kadm ACL builder; for filters (list,
// remove), what is not given matches anything.
func (f *aclFlags) builder(filter bool) (*kadm.ACLBuilder, error) {
	b := kadm.NewACLs()
	var ops []kmsg.ACLOperation
	for _, o := range f.ops {
		op, err := kmsg.ParseACLOperation(strings.ReplaceAll(strings.ToLower(o), "-", "_"))
		if err != nil || op == kmsg.ACLOperationUnknown || (!filter && op == kmsg.ACLOperationAny) {
			return nil, usagef("bad --operation %q: want Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All", o)
		}
		ops = append(ops, op)
	}
	pat, err := kmsg.ParseACLResourcePatternType(strings.ToLower(f.pattern))
	if err != nil || pat == kmsg.ACLResourcePatternTypeUnknown || (!filter && pat != kmsg.ACLResourcePatternTypeLiteral && pat != kmsg.ACLResourcePatternTypePrefixed) {
		return nil, usagef("bad --resource-pattern-type %q: want literal or prefixed", f.pattern)
	}
	b.ResourcePatternType(pat)
	for _, p := range append(append([]string(nil), f.allow...), f.deny...) {
		if !strings.Contains(p, ":") {
			return nil, usagef("bad principal %q: want TYPE:NAME, e.g. User:alice", p)
		}
	}
	hasResource := len(f.topics)+len(f.groups)+len(f.txnIDs) > 0 || f.cluster
	if filter {
		if hasResource {
			b.MaybeTopics(f.topics...).MaybeGroups(f.groups...).MaybeTransactionalIDs(f.txnIDs...).MaybeClusters(f.cluster)
		} else {
			b.AnyResource()
		}
		if len(f.allow) == 0 && len(f.deny) == 0 {
			b.Allow().Deny()
		} else {
			b.MaybeAllow(f.allow...).MaybeDeny(f.deny...)
		}
		if len(f.hosts) == 0 {
			b.AllowHosts().DenyHosts()
		} else {
			b.MaybeAllowHosts(f.hosts...).MaybeDenyHosts(f.hosts...)
		}
		b.Operations(ops...)
		return b, nil
	}
	if !hasResource {
		return nil, usagef("name a resource: --topic, --group, --transactional-id or --cluster")
	}
	if len(f.allow) == 0 && len(f.deny) == 0 {
		return nil, usagef("name a principal: --allow-principal or --deny-principal")
	}
	if len(ops) == 0 {
		return nil, usagef("name an operation: --operation")
	}
	b.MaybeTopics(f.topics...).MaybeGroups(f.groups...).MaybeTransactionalIDs(f.txnIDs...).MaybeClusters(f.cluster)
	b.MaybeAllow(f.allow...).MaybeDeny(f.deny...)
	if len(f.hosts) > 0 {
		if len(f.allow) > 0 {
			b.AllowHosts(f.hosts...)
		}
		if len(f.deny) > 0 {
			b.DenyHosts(f.hosts...)
		}
	}
	b.Operations(ops...)
	return b, nil
}

// streamsBuilders are the ACLs a Kafka Streams application needs, as
// Kafka's documentation lists them: read its inputs, write its outputs,
// everything on the topics it names <application.id>-..., its consumer
// group, and its transactional ids for exactly-once.
func (f *aclFlags) streamsBuilders() ([]*kadm.ACLBuilder, error) {
	if len(f.allow) == 0 {
		return nil, usagef("--streams-app needs --allow-principal")
	}
	if len(f.ops)+len(f.topics)+len(f.groups)+len(f.txnIDs)+len(f.deny) > 0 || f.cluster {
		return nil, usagef("--streams-app grants a fixed set: use it without --operation, --topic, --group, --transactional-id, --cluster and --deny-principal")
	}
	app := f.streamsApp
	mk := func() *kadm.ACLBuilder {
		b := kadm.NewACLs().MaybeAllow(f.allow...)
		if len(f.hosts) > 0 {
			b.AllowHosts(f.hosts...)
		}
		return b
	}
	var bs []*kadm.ACLBuilder
	if len(f.streamsIn) > 0 {
		bs = append(bs, mk().MaybeTopics(f.streamsIn...).Operations(kmsg.ACLOperationRead, kmsg.ACLOperationDescribe).ResourcePatternType(kmsg.ACLResourcePatternTypeLiteral))
	}
	if len(f.strOut) > 0 {
		bs = append(bs, mk().MaybeTopics(f.strOut...).Operations(kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe).ResourcePatternType(kmsg.ACLResourcePatternTypeLiteral))
	}
	bs = append(bs,
		mk().MaybeTopics(app+"-").Operations(kmsg.ACLOperationAll).ResourcePatternType(kmsg.ACLResourcePatternTypePrefixed),
		mk().MaybeGroups(app).Operations(kmsg.ACLOperationRead, kmsg.ACLOperationDescribe).ResourcePatternType(kmsg.ACLResourcePatternTypeLiteral),
		mk().MaybeTransactionalIDs(app+"-").Operations(kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe).ResourcePatternType(kmsg.ACLResourcePatternTypePrefixed),
	)
	return bs, nil
}

func (a *app) aclsAdd(ctx context.Context, f *aclFlags) error {
	var bs []*kadm.ACLBuilder
	if f.streamsApp != "" {
		var err error
		if bs, err = f.streamsBuilders(); err != nil {
			return err
		}
	} else {
		if len(f.streamsIn)+len(f.strOut) > 0 {
			return usagef("--input and --output go with --streams-app")
		}
		b, err := f.builder(false)
		if err != nil {
			return err
		}
		bs = append(bs, b)
	}
	cl, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	adm := kadm.NewClient(cl)
	var rows [][]string
	for _, b := range bs {
		octx, cancel := a.opContext(ctx)
		res, err := adm.CreateACLs(octx, b)
		cancel()
		if err != nil {
			return a.opError(ctx, "add ACLs", err)
		}
		for _, r := range res {
			row := []string{r.Principal, r.Host, permission(r.Permission), r.Operation.String(), r.Type.String(), r.Name, r.Pattern.String()}
			if r.Err != nil {
				return fmt.Errorf("add ACL %s: %s", strings.Join(row, " "), kafkaErr(r.Err))
			}
			rows = append(rows, row)
		}
	}
	fmt.Fprintf(a.stdout, "Added %d ACL(s):\n", len(rows))
	a.printACLs(rows)
	return nil
}

func (a *app) aclsRemove(ctx context.Context, f *aclFlags) error {
	b, err := f.builder(true)
	if err != nil {
		return err
	}
	if len(f.allow)+len(f.deny) == 0 && len(f.topics)+len(f.groups)+len(f.txnIDs) == 0 && !f.cluster {
		return usagef("name what to remove: a principal or a resource (removing every ACL at once is not offered)")
	}
	cl, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	octx, cancel := a.opContext(ctx)
	defer cancel()
	res, err := kadm.NewClient(cl).DeleteACLs(octx, b)
	if err != nil {
		return a.opError(ctx, "remove ACLs", err)
	}
	var rows [][]string
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("remove ACLs: %s", kafkaErr(r.Err))
		}
		for _, d := range r.Deleted {
			rows = append(rows, []string{d.Principal, d.Host, permission(d.Permission), d.Operation.String(), d.Type.String(), d.Name, d.Pattern.String()})
		}
	}
	fmt.Fprintf(a.stdout, "Removed %d ACL(s).\n", len(rows))
	a.printACLs(rows)
	return nil
}

func (a *app) aclsList(ctx context.Context, f *aclFlags) error {
	b, err := f.builder(true)
	if err != nil {
		return err
	}
	cl, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	octx, cancel := a.opContext(ctx)
	defer cancel()
	res, err := kadm.NewClient(cl).DescribeACLs(octx, b)
	if err != nil {
		return a.opError(ctx, "list ACLs", err)
	}
	seen := map[string]bool{}
	var rows [][]string
	for _, r := range res {
		if r.Err != nil {
			return fmt.Errorf("list ACLs: %s", kafkaErr(r.Err))
		}
		for _, d := range r.Described {
			row := []string{d.Principal, d.Host, permission(d.Permission), d.Operation.String(), d.Type.String(), d.Name, d.Pattern.String()}
			if k := strings.Join(row, "\x00"); !seen[k] {
				seen[k] = true
				rows = append(rows, row)
			}
		}
	}
	a.printACLs(rows)
	return nil
}

func permission(p kmsg.ACLPermissionType) string {
	if p == kmsg.ACLPermissionTypeAllow {
		return "ALLOW"
	}
	if p == kmsg.ACLPermissionTypeDeny {
		return "DENY"
	}
	return p.String()
}

func (a *app) printACLs(rows [][]string) {
	sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00") })
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tHOST\tPERMISSION\tOPERATION\tRESOURCE\tNAME\tPATTERN")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}
