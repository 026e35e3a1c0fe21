package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// settings is what ConfigureProvider learned: the region and the provider-wide default tags.
type settings struct {
	region      string
	account     string
	defaultTags map[string]string // nil when unknown at plan time
}

// knownAtPlan returns computed attributes of a resource whose values this provider knows before apply,
// as the real provider does: region, tags_all, and fixed values from the overrides.
func (p *Provider) knownAtPlan(typeName string, b *Block, proposed tftypes.Value, st settings) (map[string]tftypes.Value, error) {
	known, err := p.overrides.values(p.overrides.Resources, typeName, b, st.region, st.account)
	if err != nil {
		return nil, err
	}
	if a, ok := b.Attributes["region"]; ok && a.Computed && a.Type.Is(tftypes.String) {
		known["region"] = tftypes.NewValue(tftypes.String, st.region)
	}
	if a, ok := b.Attributes["tags_all"]; ok && a.Computed && a.Type.Is(tftypes.Map{ElementType: tftypes.String}) {
		known["tags_all"] = tagsAll(proposed, st.defaultTags)
	}
	if typeName == "aws_acm_certificate" {
		if dvo, ok := b.Attributes["domain_validation_options"]; ok {
			if v, ok := validationOptions(dvo.Type, proposed); ok {
				known["domain_validation_options"] = v
			}
		}
	}
	return known, nil
}

// tagsAll is the provider's default tags overlaid with the resource's tags; unknown while either is.
func tagsAll(v tftypes.Value, defaults map[string]string) tftypes.Value {
	tags, ok := asStringMap(getAttr(v, "tags"))
	if !ok || defaults == nil {
		return tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, tftypes.UnknownValue)
	}
	all := map[string]string{}
	for k, s := range defaults {
		all[k] = s
	}
	for k, s := range tags {
		all[k] = s
	}
	return stringMap(all)
}

// validationOptions plans aws_acm_certificate.domain_validation_options from the certificate's names, as the
// real provider does, so that `for_each` over them works in the same plan. The records are made up.
func validationOptions(t tftypes.Type, v tftypes.Value) (tftypes.Value, bool) {
	set, ok := t.(tftypes.Set)
	if !ok {
		return tftypes.Value{}, false
	}
	obj, ok := set.ElementType.(tftypes.Object)
	if !ok {
		return tftypes.Value{}, false
	}
	domain, ok := asString(getAttr(v, "domain_name"))
	if !ok {
		return tftypes.Value{}, false
	}
	sans := getAttr(v, "subject_alternative_names")
	if !sans.IsFullyKnown() {
		return tftypes.Value{}, false
	}
	names := append([]string{domain}, asStrings(sans)...)
	seen := map[string]bool{}
	var elems []tftypes.Value
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		base := strings.TrimPrefix(name, "*.")
		sum := sha256.Sum256([]byte(base))
		h := hex.EncodeToString(sum[:])
		attrs := map[string]tftypes.Value{}
		for an, at := range obj.AttributeTypes {
			var s string
			switch an {
			case "domain_name":
				s = name
			case "resource_record_name":
				s = "_" + h[:32] + "." + base + "."
			case "resource_record_type":
				s = "CNAME"
			case "resource_record_value":
				s = "_" + h[32:64] + ".acm-validations.aws."
			}
			attrs[an] = tftypes.NewValue(at, s)
		}
		elems = append(elems, tftypes.NewValue(obj, attrs))
	}
	return tftypes.NewValue(t, elems), true
}

// knownAtRead returns the values a data source reports for computed attributes its configuration leaves
// null: overrides, the region, and values derived from the configuration.
func (p *Provider) knownAtRead(typeName string, b *Block, config tftypes.Value, st settings) (map[string]tftypes.Value, error) {
	known, err := p.overrides.values(p.overrides.DataSources, typeName, b, st.region, st.account)
	if err != nil {
		return nil, err
	}
	if a, ok := b.Attributes["region"]; ok && a.Computed && a.Type.Is(tftypes.String) {
		if _, set := known["region"]; !set {
			known["region"] = tftypes.NewValue(tftypes.String, st.region)
		}
	}
	switch typeName {
	case "aws_iam_policy_document":
		indented, minified := renderPolicyDocument(config)
		known["json"] = tftypes.NewValue(tftypes.String, indented)
		known["minified_json"] = tftypes.NewValue(tftypes.String, minified)
		known["id"] = tftypes.NewValue(tftypes.String, strconv.FormatUint(uint64(crc(minified)), 10))
	case "aws_availability_zones":
		if names, ok := known["names"]; ok {
			known["names"] = excludeZones(names, asStrings(getAttr(config, "exclude_names")))
		}
	case "aws_route53_zone":
		// A zone looked up by name must report that name (with or without the trailing dot).
		if name, ok := asString(getAttr(config, "name")); ok {
			known["name"] = tftypes.NewValue(tftypes.String, strings.TrimSuffix(name, "."))
		}
	}
	return known, nil
}

func excludeZones(names tftypes.Value, exclude []string) tftypes.Value {
	if len(exclude) == 0 {
		return names
	}
	drop := map[string]bool{}
	for _, e := range exclude {
		drop[e] = true
	}
	var keep []string
	for _, n := range asStrings(names) {
		if !drop[n] {
			keep = append(keep, n)
		}
	}
	return stringList(names.Type(), keep)
}

func crc(s string) uint32 {
	sum := sha256.Sum256([]byte(s))
	return uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
}

// readSettings decodes the provider configuration.
func readSettings(config tftypes.Value, account string) settings {
	st := settings{region: "us-east-1", account: account, defaultTags: map[string]string{}}
	if config.IsNull() || !config.IsKnown() {
		return st
	}
	// An unknown region (configured from another resource) plans as the default one.
	if r, ok := asString(getAttr(config, "region")); ok && r != "" {
		st.region = r
	}
	dt := getAttr(config, "default_tags")
	if !dt.IsKnown() {
		st.defaultTags = nil
		return st
	}
	var blocks []tftypes.Value
	if !dt.IsNull() && dt.As(&blocks) == nil {
		for _, blk := range blocks {
			tags, ok := asStringMap(getAttr(blk, "tags"))
			if !ok {
				st.defaultTags = nil
				return st
			}
			for k, v := range tags {
				st.defaultTags[k] = v
			}
		}
	}
	return st
}
