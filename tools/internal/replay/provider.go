package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// DefaultAccount is the AWS account id the provider pretends to run in.
const DefaultAccount = "123456789012"

// Provider serves a replayed schema over plugin protocol 5. Terraform itself checks configurations against
// the schema; the provider validates nothing more and never talks to AWS.
type Provider struct {
	schemas   *Schemas
	overrides *Overrides
	account   string

	schemaOnce sync.Once
	schemaResp *tfprotov5.GetProviderSchemaResponse

	mu       sync.Mutex
	settings settings

	readLatency time.Duration // added to every ReadResource and ReadDataSource (see SetReadLatency)
	reality     Reality       // what the cloud holds where it differs from the state (see SetReality)
}

var _ tfprotov5.ProviderServer = (*Provider)(nil)

// New returns a provider serving schemas with the given overrides (nil for none).
func New(schemas *Schemas, overrides *Overrides) *Provider {
	return &Provider{
		schemas:   schemas,
		overrides: overrides,
		account:   DefaultAccount,
		settings:  readSettings(tftypes.NewValue(tftypes.Object{}, nil), DefaultAccount),
	}
}

// SetReadLatency makes every ReadResource (refresh) and ReadDataSource take at least d, as an AWS API
// round trip would: plans against deployed state then wait on "the API" as real ones do, instead of
// being pure CPU. Zero (the default) answers at once. Call it before serving.
func (p *Provider) SetReadLatency(d time.Duration) { p.readLatency = d }

// apiWait sleeps for the read latency, or until ctx is done.
func (p *Provider) apiWait(ctx context.Context) []*tfprotov5.Diagnostic {
	if p.readLatency <= 0 {
		return nil
	}
	t := time.NewTimer(p.readLatency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errorDiag("Read cancelled", ctx.Err())
	}
}

var capabilities = &tfprotov5.ServerCapabilities{PlanDestroy: true}

func (p *Provider) current() settings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settings
}

func (p *Provider) GetMetadata(context.Context, *tfprotov5.GetMetadataRequest) (*tfprotov5.GetMetadataResponse, error) {
	resp := &tfprotov5.GetMetadataResponse{ServerCapabilities: capabilities}
	for _, name := range sortedKeys(p.schemas.Resources) {
		resp.Resources = append(resp.Resources, tfprotov5.ResourceMetadata{TypeName: name})
	}
	for _, name := range sortedKeys(p.schemas.DataSources) {
		resp.DataSources = append(resp.DataSources, tfprotov5.DataSourceMetadata{TypeName: name})
	}
	for _, name := range sortedKeys(p.schemas.EphemeralResources) {
		resp.EphemeralResources = append(resp.EphemeralResources, tfprotov5.EphemeralResourceMetadata{TypeName: name})
	}
	return resp, nil
}

func (p *Provider) GetProviderSchema(context.Context, *tfprotov5.GetProviderSchemaRequest) (*tfprotov5.GetProviderSchemaResponse, error) {
	p.schemaOnce.Do(func() {
		resp := &tfprotov5.GetProviderSchemaResponse{
			ServerCapabilities:       capabilities,
			Provider:                 p.schemas.Provider.Proto(),
			ResourceSchemas:          map[string]*tfprotov5.Schema{},
			DataSourceSchemas:        map[string]*tfprotov5.Schema{},
			EphemeralResourceSchemas: map[string]*tfprotov5.Schema{},
			Functions:                map[string]*tfprotov5.Function{},
		}
		for name, s := range p.schemas.Resources {
			resp.ResourceSchemas[name] = s.Proto()
		}
		for name, s := range p.schemas.DataSources {
			resp.DataSourceSchemas[name] = s.Proto()
		}
		for name, s := range p.schemas.EphemeralResources {
			resp.EphemeralResourceSchemas[name] = s.Proto()
		}
		p.schemaResp = resp
	})
	return p.schemaResp, nil
}

func (p *Provider) GetResourceIdentitySchemas(context.Context, *tfprotov5.GetResourceIdentitySchemasRequest) (*tfprotov5.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov5.GetResourceIdentitySchemasResponse{IdentitySchemas: map[string]*tfprotov5.ResourceIdentitySchema{}}, nil
}

func (p *Provider) PrepareProviderConfig(_ context.Context, req *tfprotov5.PrepareProviderConfigRequest) (*tfprotov5.PrepareProviderConfigResponse, error) {
	return &tfprotov5.PrepareProviderConfigResponse{PreparedConfig: req.Config, Diagnostics: validateConfig(p.schemas.Provider, req.Config)}, nil
}

func (p *Provider) ConfigureProvider(_ context.Context, req *tfprotov5.ConfigureProviderRequest) (*tfprotov5.ConfigureProviderResponse, error) {
	config, err := decode(req.Config, p.schemas.Provider.Block.Type())
	if err != nil {
		return &tfprotov5.ConfigureProviderResponse{Diagnostics: errorDiag("Invalid provider configuration", err)}, nil
	}
	st := readSettings(config, p.account)
	p.mu.Lock()
	p.settings = st
	p.mu.Unlock()
	return &tfprotov5.ConfigureProviderResponse{}, nil
}

func (p *Provider) StopProvider(context.Context, *tfprotov5.StopProviderRequest) (*tfprotov5.StopProviderResponse, error) {
	// Every call finishes at once without I/O, so there is nothing to interrupt.
	return &tfprotov5.StopProviderResponse{}, nil
}

func (p *Provider) ValidateResourceTypeConfig(_ context.Context, req *tfprotov5.ValidateResourceTypeConfigRequest) (*tfprotov5.ValidateResourceTypeConfigResponse, error) {
	s, diags := p.resource(req.TypeName)
	if diags == nil {
		diags = validateConfig(s, req.Config)
	}
	return &tfprotov5.ValidateResourceTypeConfigResponse{Diagnostics: diags}, nil
}

func (p *Provider) ValidateDataSourceConfig(_ context.Context, req *tfprotov5.ValidateDataSourceConfigRequest) (*tfprotov5.ValidateDataSourceConfigResponse, error) {
	s, diags := lookup(p.schemas.DataSources, "data source", req.TypeName)
	if diags == nil {
		diags = validateConfig(s, req.Config)
	}
	return &tfprotov5.ValidateDataSourceConfigResponse{Diagnostics: diags}, nil
}

func (p *Provider) UpgradeResourceState(_ context.Context, req *tfprotov5.UpgradeResourceStateRequest) (*tfprotov5.UpgradeResourceStateResponse, error) {
	s, diags := p.resource(req.TypeName)
	if diags != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: diags}, nil
	}
	v, err := UpgradeState(req.RawState, s.Block.Type())
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: errorDiag("Cannot upgrade "+req.TypeName+" state", err)}, nil
	}
	dv, err := tfprotov5.NewDynamicValue(s.Block.Type(), v)
	if err != nil {
		return &tfprotov5.UpgradeResourceStateResponse{Diagnostics: errorDiag("Cannot encode "+req.TypeName+" state", err)}, nil
	}
	return &tfprotov5.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

// UpgradeState decodes stored state JSON into the current type. Attributes the schema no longer has are
// dropped and missing ones are null, which is all a replayed schema can promise.
func UpgradeState(raw *tfprotov5.RawState, typ tftypes.Type) (tftypes.Value, error) {
	if raw == nil || (len(raw.JSON) == 0 && len(raw.Flatmap) == 0) {
		return tftypes.NewValue(typ, nil), nil
	}
	if len(raw.JSON) == 0 {
		return tftypes.Value{}, fmt.Errorf("flatmap state (Terraform 0.11) is not supported")
	}
	v, err := raw.UnmarshalWithOpts(typ, tfprotov5.UnmarshalOpts{
		ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true},
	})
	if err != nil {
		return tftypes.Value{}, fmt.Errorf("decode state: %w", err)
	}
	return v, nil
}

func (p *Provider) ReadResource(ctx context.Context, req *tfprotov5.ReadResourceRequest) (*tfprotov5.ReadResourceResponse, error) {
	if diags := p.apiWait(ctx); diags != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: diags}, nil
	}
	if p.reality.Path == "" || req.CurrentState == nil {
		return &tfprotov5.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private, NewIdentity: req.CurrentIdentity}, nil
	}
	s, diags := p.resource(req.TypeName)
	if diags != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: diags}, nil
	}
	state, err := req.CurrentState.Unmarshal(s.Block.Type())
	if err != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: errorDiag("Cannot decode "+req.TypeName+" state", err)}, nil
	}
	real, err := p.reality.apply(req.TypeName, state)
	if err != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: errorDiag("Cannot read "+req.TypeName, err)}, nil
	}
	dv, err := tfprotov5.NewDynamicValue(s.Block.Type(), real)
	if err != nil {
		return &tfprotov5.ReadResourceResponse{Diagnostics: errorDiag("Cannot encode "+req.TypeName+" state", err)}, nil
	}
	return &tfprotov5.ReadResourceResponse{NewState: &dv, Private: req.Private, NewIdentity: req.CurrentIdentity}, nil
}

func (p *Provider) PlanResourceChange(_ context.Context, req *tfprotov5.PlanResourceChangeRequest) (*tfprotov5.PlanResourceChangeResponse, error) {
	resp := &tfprotov5.PlanResourceChangeResponse{PlannedPrivate: req.PriorPrivate}
	s, diags := p.resource(req.TypeName)
	if diags != nil {
		resp.Diagnostics = diags
		return resp, nil
	}
	planned, replace, err := p.plan(req.TypeName, s.Block, req.PriorState, req.ProposedNewState, req.Config)
	if err != nil {
		resp.Diagnostics = errorDiag("Cannot plan "+req.TypeName, err)
		return resp, nil
	}
	resp.PlannedState, resp.RequiresReplace = planned, replace
	return resp, nil
}

// plan returns the planned state and, on update, the changed arguments that force a replacement.
func (p *Provider) plan(typeName string, b *Block, priorDV, proposedDV, configDV *tfprotov5.DynamicValue) (*tfprotov5.DynamicValue, []*tftypes.AttributePath, error) {
	typ := b.Type()
	prior, err := decode(priorDV, typ)
	if err != nil {
		return nil, nil, fmt.Errorf("prior state: %w", err)
	}
	proposed, err := decode(proposedDV, typ)
	if err != nil {
		return nil, nil, fmt.Errorf("proposed state: %w", err)
	}
	config, err := decode(configDV, typ)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if proposed.IsNull() {
		dv, err := encode(typ, proposed)
		return dv, nil, err
	}
	known, err := p.knownAtPlan(typeName, b, proposed, p.current())
	if err != nil {
		return nil, nil, err
	}
	var replace []*tftypes.AttributePath
	if !prior.IsNull() {
		var changed bool
		if replace, changed, err = p.changes(typeName, b, prior, proposed); err != nil {
			return nil, nil, err
		}
		if changed {
			unknowns, err := p.overrides.names(p.overrides.UnknownOnUpdate, typeName)
			if err != nil {
				return nil, nil, err
			}
			for _, name := range unknowns {
				if a, ok := b.Attributes[name]; ok && a.Computed {
					known[name] = tftypes.NewValue(a.Type, tftypes.UnknownValue)
				}
			}
		}
	}
	pl := &planner{known: known, creates: prior.IsNull()}
	planned, err := pl.planResource(b, proposed, config)
	if err != nil {
		return nil, nil, err
	}
	dv, err := encode(typ, planned)
	return dv, replace, err
}

// changes compares an update's prior and proposed state: changed is whether any argument (other than tags)
// differs, replace lists the changed arguments that force a new resource.
func (p *Provider) changes(typeName string, b *Block, prior, proposed tftypes.Value) ([]*tftypes.AttributePath, bool, error) {
	forceNew, err := p.overrides.names(p.overrides.ReplaceOnChange, typeName)
	if err != nil {
		return nil, false, err
	}
	isForceNew := map[string]bool{}
	for _, name := range forceNew {
		isForceNew[name] = true
	}
	var replace []*tftypes.AttributePath
	changed := false
	for _, name := range sortedKeys(b.Type().AttributeTypes) {
		if name == "tags" || name == "tags_all" || getAttr(prior, name).Equal(getAttr(proposed, name)) {
			continue
		}
		if a, ok := b.Attributes[name]; ok && a.Computed && !a.Optional {
			continue
		}
		changed = true
		if isForceNew[name] {
			replace = append(replace, tftypes.NewAttributePath().WithAttributeName(name))
		}
	}
	return replace, changed, nil
}

func (p *Provider) ApplyResourceChange(_ context.Context, req *tfprotov5.ApplyResourceChangeRequest) (*tfprotov5.ApplyResourceChangeResponse, error) {
	resp := &tfprotov5.ApplyResourceChangeResponse{Private: req.PlannedPrivate, NewIdentity: req.PlannedIdentity}
	s, diags := p.resource(req.TypeName)
	if diags != nil {
		resp.Diagnostics = diags
		return resp, nil
	}
	typ := s.Block.Type()
	planned, err := decode(req.PlannedState, typ)
	if err != nil {
		resp.Diagnostics = errorDiag("Cannot apply "+req.TypeName, err)
		return resp, nil
	}
	prior, err := decode(req.PriorState, typ)
	if err != nil {
		resp.Diagnostics = errorDiag("Cannot apply "+req.TypeName, err)
		return resp, nil
	}
	st := p.current()
	gen := newValueGen(req.TypeName, planned, st.region, st.account)
	gen.prior = prior
	newState, err := fillUnknown(gen, planned, "", "")
	if err == nil {
		resp.NewState, err = encode(typ, newState)
	}
	if err != nil {
		resp.Diagnostics = errorDiag("Cannot apply "+req.TypeName, err)
	}
	return resp, nil
}

func (p *Provider) ImportResourceState(_ context.Context, req *tfprotov5.ImportResourceStateRequest) (*tfprotov5.ImportResourceStateResponse, error) {
	s, diags := p.resource(req.TypeName)
	if diags != nil {
		return &tfprotov5.ImportResourceStateResponse{Diagnostics: diags}, nil
	}
	typ := s.Block.Type()
	attrs := nullAttrs(typ)
	if t, ok := typ.AttributeTypes["id"]; ok && t.Is(tftypes.String) {
		attrs["id"] = tftypes.NewValue(tftypes.String, req.ID)
	}
	dv, err := encode(typ, tftypes.NewValue(typ, attrs))
	if err != nil {
		return &tfprotov5.ImportResourceStateResponse{Diagnostics: errorDiag("Cannot import "+req.TypeName, err)}, nil
	}
	return &tfprotov5.ImportResourceStateResponse{
		ImportedResources: []*tfprotov5.ImportedResource{{TypeName: req.TypeName, State: dv}},
	}, nil
}

func (p *Provider) MoveResourceState(context.Context, *tfprotov5.MoveResourceStateRequest) (*tfprotov5.MoveResourceStateResponse, error) {
	return &tfprotov5.MoveResourceStateResponse{Diagnostics: errorDiag("Moving resource state is not supported", nil)}, nil
}

func (p *Provider) UpgradeResourceIdentity(context.Context, *tfprotov5.UpgradeResourceIdentityRequest) (*tfprotov5.UpgradeResourceIdentityResponse, error) {
	return &tfprotov5.UpgradeResourceIdentityResponse{Diagnostics: errorDiag("Resource identity is not supported", nil)}, nil
}

func (p *Provider) GenerateResourceConfig(context.Context, *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{Diagnostics: errorDiag("Generating configuration is not supported", nil)}, nil
}

func (p *Provider) ReadDataSource(ctx context.Context, req *tfprotov5.ReadDataSourceRequest) (*tfprotov5.ReadDataSourceResponse, error) {
	if diags := p.apiWait(ctx); diags != nil {
		return &tfprotov5.ReadDataSourceResponse{Diagnostics: diags}, nil
	}
	s, diags := lookup(p.schemas.DataSources, "data source", req.TypeName)
	if diags != nil {
		return &tfprotov5.ReadDataSourceResponse{Diagnostics: diags}, nil
	}
	state, err := p.read(req.TypeName, s.Block, req.Config)
	if err != nil {
		return &tfprotov5.ReadDataSourceResponse{Diagnostics: errorDiag("Cannot read "+req.TypeName, err)}, nil
	}
	return &tfprotov5.ReadDataSourceResponse{State: state}, nil
}

// read answers a data source (or opens an ephemeral resource): the configuration with every computed
// attribute it leaves null filled in.
func (p *Provider) read(typeName string, b *Block, configDV *tfprotov5.DynamicValue) (*tfprotov5.DynamicValue, error) {
	typ := b.Type()
	config, err := decode(configDV, typ)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if config.IsNull() {
		config = tftypes.NewValue(typ, nullAttrs(typ))
	}
	st := p.current()
	known, err := p.knownAtRead(typeName, b, config, st)
	if err != nil {
		return nil, err
	}
	state, err := fillComputed(newValueGen(typeName, config, st.region, st.account), b, config, known, "")
	if err != nil {
		return nil, err
	}
	return encode(typ, state)
}

func (p *Provider) ValidateEphemeralResourceConfig(_ context.Context, req *tfprotov5.ValidateEphemeralResourceConfigRequest) (*tfprotov5.ValidateEphemeralResourceConfigResponse, error) {
	s, diags := lookup(p.schemas.EphemeralResources, "ephemeral resource", req.TypeName)
	if diags == nil {
		diags = validateConfig(s, req.Config)
	}
	return &tfprotov5.ValidateEphemeralResourceConfigResponse{Diagnostics: diags}, nil
}

func (p *Provider) OpenEphemeralResource(_ context.Context, req *tfprotov5.OpenEphemeralResourceRequest) (*tfprotov5.OpenEphemeralResourceResponse, error) {
	s, diags := lookup(p.schemas.EphemeralResources, "ephemeral resource", req.TypeName)
	if diags != nil {
		return &tfprotov5.OpenEphemeralResourceResponse{Diagnostics: diags}, nil
	}
	result, err := p.read(req.TypeName, s.Block, req.Config)
	if err != nil {
		return &tfprotov5.OpenEphemeralResourceResponse{Diagnostics: errorDiag("Cannot open "+req.TypeName, err)}, nil
	}
	return &tfprotov5.OpenEphemeralResourceResponse{Result: result}, nil
}

func (p *Provider) RenewEphemeralResource(context.Context, *tfprotov5.RenewEphemeralResourceRequest) (*tfprotov5.RenewEphemeralResourceResponse, error) {
	return &tfprotov5.RenewEphemeralResourceResponse{}, nil
}

func (p *Provider) CloseEphemeralResource(context.Context, *tfprotov5.CloseEphemeralResourceRequest) (*tfprotov5.CloseEphemeralResourceResponse, error) {
	return &tfprotov5.CloseEphemeralResourceResponse{}, nil
}

func (p *Provider) GetFunctions(context.Context, *tfprotov5.GetFunctionsRequest) (*tfprotov5.GetFunctionsResponse, error) {
	return &tfprotov5.GetFunctionsResponse{Functions: map[string]*tfprotov5.Function{}}, nil
}

func (p *Provider) CallFunction(_ context.Context, req *tfprotov5.CallFunctionRequest) (*tfprotov5.CallFunctionResponse, error) {
	return &tfprotov5.CallFunctionResponse{Error: &tfprotov5.FunctionError{Text: "no function " + req.Name}}, nil
}

func (p *Provider) resource(typeName string) (*Schema, []*tfprotov5.Diagnostic) {
	return lookup(p.schemas.Resources, "resource", typeName)
}

func lookup(m map[string]*Schema, kind, typeName string) (*Schema, []*tfprotov5.Diagnostic) {
	s, ok := m[typeName]
	if !ok {
		return nil, errorDiag(fmt.Sprintf("Unsupported %s type %q", kind, typeName), nil)
	}
	return s, nil
}

func decode(dv *tfprotov5.DynamicValue, typ tftypes.Type) (tftypes.Value, error) {
	if dv == nil || (len(dv.MsgPack) == 0 && len(dv.JSON) == 0) {
		return tftypes.NewValue(typ, nil), nil
	}
	return dv.Unmarshal(typ)
}

func encode(typ tftypes.Type, v tftypes.Value) (*tfprotov5.DynamicValue, error) {
	dv, err := tfprotov5.NewDynamicValue(typ, v)
	if err != nil {
		return nil, err
	}
	return &dv, nil
}

func nullAttrs(typ tftypes.Object) map[string]tftypes.Value {
	attrs := make(map[string]tftypes.Value, len(typ.AttributeTypes))
	for name, t := range typ.AttributeTypes {
		attrs[name] = tftypes.NewValue(t, nil)
	}
	return attrs
}

func errorDiag(summary string, err error) []*tfprotov5.Diagnostic {
	d := &tfprotov5.Diagnostic{Severity: tfprotov5.DiagnosticSeverityError, Summary: summary}
	if err != nil {
		d.Detail = err.Error()
	}
	return []*tfprotov5.Diagnostic{d}
}
