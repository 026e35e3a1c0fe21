package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// valueGen makes the deterministic values that stand in for what AWS would return. Every value is
// derived from the type name, a seed (the resource's known values, so count/for_each instances differ),
// and the attribute's position.
type valueGen struct {
	typeName string
	seed     string
	hint     string // the resource's own name (name, bucket, family, tags.Name ...) when known
	prior    tftypes.Value
	region   string
	account  string
}

func newValueGen(typeName string, v tftypes.Value, region, account string) *valueGen {
	return &valueGen{
		typeName: typeName,
		seed:     v.String(),
		hint:     nameHint(v),
		region:   region,
		account:  account,
	}
}

// nameHint picks the attribute AWS would show as the resource's name.
func nameHint(v tftypes.Value) string {
	for _, attr := range []string{"name", "bucket", "family", "function_name", "domain_name", "repository_name", "cluster_identifier", "identifier"} {
		if s, ok := asString(getAttr(v, attr)); ok && s != "" {
			return s
		}
	}
	if tags, ok := asStringMap(getAttr(v, "tags")); ok && tags["Name"] != "" {
		return tags["Name"]
	}
	if s, ok := asString(getAttr(v, "name_prefix")); ok && s != "" {
		return s
	}
	return ""
}

func (g *valueGen) hash(path string) string {
	sum := sha256.Sum256([]byte(g.typeName + "\x00" + g.seed + "\x00" + path))
	return hex.EncodeToString(sum[:])
}

// name is the resource's name, or a generated one like Terraform's own ("terraform-2024...").
func (g *valueGen) name(h string) string {
	if g.hint != "" {
		return g.hint
	}
	return "terraform-" + h[:20]
}

// value returns a known value of type t for the attribute attr at path.
func (g *valueGen) value(t tftypes.Type, attr, path string) tftypes.Value {
	switch {
	case t.Is(tftypes.String):
		return tftypes.NewValue(t, g.str(attr, path))
	case t.Is(tftypes.Number):
		return tftypes.NewValue(t, number(g.num(attr, path)))
	case t.Is(tftypes.Bool):
		return tftypes.NewValue(t, false)
	case t.Is(tftypes.DynamicPseudoType):
		return tftypes.NewValue(tftypes.String, g.str(attr, path))
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}), t.Is(tftypes.Tuple{}):
		if tt, ok := t.(tftypes.Tuple); ok {
			elems := make([]tftypes.Value, len(tt.ElementTypes))
			for i, et := range tt.ElementTypes {
				elems[i] = g.value(et, attr, fmt.Sprintf("%s[%d]", path, i))
			}
			return tftypes.NewValue(t, elems)
		}
		return tftypes.NewValue(t, []tftypes.Value{})
	case t.Is(tftypes.Map{}):
		return tftypes.NewValue(t, map[string]tftypes.Value{})
	case t.Is(tftypes.Object{}):
		ot := t.(tftypes.Object)
		attrs := make(map[string]tftypes.Value, len(ot.AttributeTypes))
		for name, at := range ot.AttributeTypes {
			attrs[name] = g.value(at, name, path+"."+name)
		}
		return tftypes.NewValue(t, attrs)
	}
	return tftypes.NewValue(t, nil)
}

// num is 0, except for versions: an updated resource's top-level version is the prior one plus one, and
// a revision is derived from the resource's values (a new task definition gets a new revision).
func (g *valueGen) num(attr, path string) int64 {
	switch {
	case attr == "revision":
		return g.revision()
	case strings.Contains(attr, "version"):
		var prior big.Float
		if path == "."+attr {
			if v := getAttr(g.prior, attr); v.IsKnown() && !v.IsNull() && v.Type().Is(tftypes.Number) && v.As(&prior) == nil {
				n, _ := prior.Int64()
				return n + 1
			}
		}
		return 1
	}
	return 0
}

func (g *valueGen) revision() int64 {
	h := g.hash("revision")
	return 1 + int64(hexByte(h, 0)<<8|hexByte(h, 2))%999
}

func (g *valueGen) str(attr, path string) string {
	h := g.hash(path)
	switch {
	case attr == "id":
		return g.id(h)
	case attr == "arn" || strings.HasSuffix(attr, "_arn"):
		return g.arn(attr, h)
	case attr == "arn_suffix":
		return "app/" + g.name(h) + "/" + h[:16]
	case attr == "owner_id" || attr == "account_id" || attr == "owner" || attr == "registry_id":
		return g.account
	case attr == "region":
		return g.region
	case attr == "availability_zone":
		return g.region + "a"
	case attr == "availability_zone_id":
		return "use1-az1"
	case attr == "partition":
		return "aws"
	case strings.HasSuffix(attr, "dns_name"):
		return fmt.Sprintf("%s-%s.%s.elb.amazonaws.com", trimDNS(g.name(h)), h[:10], g.region)
	case attr == "zone_id" || strings.HasSuffix(attr, "hosted_zone_id"):
		return "Z" + strings.ToUpper(h[:20])
	case attr == "repository_url":
		return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", g.account, g.region, g.name(h))
	case attr == "url" || strings.HasSuffix(attr, "_url") || attr == "endpoint":
		return fmt.Sprintf("https://%s-%s.%s.amazonaws.com", trimDNS(g.name(h)), h[:8], g.region)
	case strings.HasPrefix(attr, "ipv6"):
		return ""
	case strings.HasSuffix(attr, "cidr_block"):
		return "10.0.0.0/16"
	case attr == "private_ip" || attr == "public_ip" || strings.HasSuffix(attr, "_ip"):
		return fmt.Sprintf("10.0.%d.%d", hexByte(h, 0), hexByte(h, 2)%254+1)
	case attr == "json" || attr == "policy" || strings.HasSuffix(attr, "_json"):
		return "{}"
	case strings.HasSuffix(attr, "_id"):
		return idPrefix(strings.TrimSuffix(attr, "_id")) + h[:17]
	case attr == "name":
		return g.name(h)
	}
	return attr + "-" + h[:8]
}

// id is the provider's "id" for the type: an EC2-style identifier, an ARN or the resource's name.
func (g *valueGen) id(h string) string {
	short := strings.TrimPrefix(g.typeName, "aws_")
	if p, ok := ec2IDPrefixes[short]; ok {
		return p + h[:17]
	}
	switch short {
	case "route53_zone":
		return "Z" + strings.ToUpper(h[:20])
	case "kms_key", "autoscaling_policy":
		return uuid(h)
	case "cloudfront_distribution":
		return "E" + strings.ToUpper(h[:13])
	case "ecs_task_definition":
		return g.name(h)
	}
	if arnIDs[short] {
		return g.arn("arn", h)
	}
	if g.hint != "" {
		return g.hint
	}
	return idPrefix(short) + h[:17]
}

// arnIDs are the types whose "id" is their ARN.
var arnIDs = map[string]bool{
	"lb": true, "alb": true, "lb_target_group": true, "alb_target_group": true, "lb_listener": true,
	"alb_listener": true, "lb_listener_rule": true, "alb_listener_rule": true, "ecs_cluster": true,
	"ecs_service": true, "iam_policy": true, "acm_certificate": true, "sns_topic": true,
}

var ec2IDPrefixes = map[string]string{
	"vpc": "vpc-", "default_vpc": "vpc-", "subnet": "subnet-", "default_subnet": "subnet-",
	"security_group": "sg-", "default_security_group": "sg-", "internet_gateway": "igw-",
	"egress_only_internet_gateway": "eigw-", "nat_gateway": "nat-", "route_table": "rtb-",
	"default_route_table": "rtb-", "route_table_association": "rtbassoc-", "eip": "eipalloc-",
	"eip_association": "eipassoc-", "launch_template": "lt-", "instance": "i-", "network_acl": "acl-",
	"default_network_acl": "acl-", "vpc_endpoint": "vpce-", "flow_log": "fl-", "ami": "ami-",
	"network_interface": "eni-", "ebs_volume": "vol-", "key_pair": "key-",
	"vpc_security_group_ingress_rule": "sgr-", "vpc_security_group_egress_rule": "sgr-",
	"security_group_rule": "sgrule-", "vpc_dhcp_options": "dopt-", "vpc_peering_connection": "pcx-",
	"placement_group": "pg-", "ec2_transit_gateway": "tgw-", "customer_gateway": "cgw-", "vpn_gateway": "vgw-",
}

func idPrefix(kind string) string {
	switch kind {
	case "vpc", "subnet", "ami", "vol", "eni", "igw", "nat", "rtb", "acl", "vpce", "lt":
		return kind + "-"
	case "security_group", "source_security_group", "default_security_group":
		return "sg-"
	case "image":
		return "ami-"
	case "route_table", "default_route_table", "main_route_table":
		return "rtb-"
	case "default_network_acl", "network_acl":
		return "acl-"
	case "network_interface", "primary_network_interface":
		return "eni-"
	case "allocation":
		return "eipalloc-"
	case "association":
		return "eipassoc-"
	case "dhcp_options":
		return "dopt-"
	case "internet_gateway", "gateway":
		return "igw-"
	case "instance":
		return "i-"
	case "key", "kms_key":
		return "k"
	case "launch_template":
		return "lt-"
	}
	return ""
}

// arn builds an ARN in the shape AWS uses for the type.
func (g *valueGen) arn(attr, h string) string {
	short := strings.TrimPrefix(g.typeName, "aws_")
	name := g.name(h)
	region, account := g.region, g.account
	if attr != "arn" {
		kind := strings.TrimSuffix(attr, "_arn")
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", serviceOf(short), region, account, strings.ReplaceAll(kind, "_", "-"), h[:16])
	}
	switch {
	case strings.HasPrefix(short, "s3_"):
		return "arn:aws:s3:::" + name
	case strings.HasPrefix(short, "iam_"):
		return fmt.Sprintf("arn:aws:iam::%s:%s/%s", account, strings.ReplaceAll(strings.TrimPrefix(short, "iam_"), "_", "-"), name)
	case strings.HasPrefix(short, "route53_"):
		return "arn:aws:route53:::hostedzone/Z" + strings.ToUpper(h[:20])
	case strings.HasPrefix(short, "cloudfront_"):
		return fmt.Sprintf("arn:aws:cloudfront::%s:distribution/E%s", account, strings.ToUpper(h[:13]))
	case short == "lb" || short == "alb":
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s", region, account, name, h[:16])
	case short == "lb_target_group" || short == "alb_target_group":
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", region, account, trimDNS(name), h[:16])
	case short == "lb_listener" || short == "alb_listener":
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:listener/app/%s/%s/%s", region, account, name, h[:16], h[16:32])
	case short == "lb_listener_rule" || short == "alb_listener_rule":
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:listener-rule/app/%s/%s/%s", region, account, name, h[:16], h[16:32])
	case short == "ecs_task_definition":
		return fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", region, account, name, g.revision())
	case short == "cloudwatch_log_group":
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, account, name)
	case short == "cloudwatch_metric_alarm":
		return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, account, name)
	case short == "autoscaling_group":
		return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", region, account, uuid(h), name)
	case short == "acm_certificate":
		return fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s", region, account, uuid(h))
	case short == "kms_key":
		return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", region, account, uuid(h))
	case short == "sns_topic", short == "sqs_queue":
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", serviceOf(short), region, account, name)
	case short == "secretsmanager_secret":
		return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, account, name, h[:6])
	case short == "lambda_function":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, name)
	}
	svc := serviceOf(short)
	kind := strings.TrimPrefix(short, svc+"_")
	if p, ok := ec2IDPrefixes[short]; ok {
		return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s%s", region, account, strings.ReplaceAll(kind, "_", "-"), p, h[:17])
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", svc, region, account, strings.ReplaceAll(kind, "_", "-"), name)
}

// serviceOf maps a type name without "aws_" to the service part of its ARNs.
func serviceOf(short string) string {
	if _, ok := ec2IDPrefixes[short]; ok {
		return "ec2"
	}
	first, _, _ := strings.Cut(short, "_")
	switch first {
	case "lb", "alb", "elb":
		return "elasticloadbalancing"
	case "cloudwatch":
		if strings.HasPrefix(short, "cloudwatch_log") {
			return "logs"
		}
		if strings.HasPrefix(short, "cloudwatch_event") {
			return "events"
		}
		return "cloudwatch"
	case "appautoscaling":
		return "application-autoscaling"
	case "vpc", "ec2", "eip", "ebs", "launch", "security", "route", "network", "default", "nat", "internet":
		return "ec2"
	}
	return first
}

func uuid(h string) string {
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func hexByte(h string, i int) int {
	b, _ := hex.DecodeString(h[i : i+2])
	return int(b[0])
}

// trimDNS keeps a name usable inside a DNS label (load balancer names are at most 32 characters).
func trimDNS(s string) string {
	s = strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s))
	if len(s) > 32 {
		s = s[:32]
	}
	return s
}
