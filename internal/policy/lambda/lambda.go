// Package lambda runs the aws-lambda policy: it calls an AWS Lambda
// function with the official AWS SDK for Go v2, as API Connect's Lambda
// policy does, with credentials from STS AssumeRole (the external ID being
// the provider org's ID), from an access key pair, or from the gateway's
// own AWS credential chain.
//
// Clients and assumed-role credentials are long-lived: a Pool kept in the
// gateway's assembly.Env shares them across requests and configuration
// reloads. The policy's settings are compiled elsewhere (the Factory in
// package policy) into a Spec.
package lambda

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/portico-api/portico/internal/assembly"
)

// PayloadMode says what the function receives and how its result becomes
// the message.
type PayloadMode int

const (
	// PayloadBody sends the message body as the event and makes the
	// function's result the message body, as API Connect's policy does.
	PayloadBody PayloadMode = iota
	// PayloadAPIGatewayProxy sends an Amazon API Gateway proxy event
	// (payload format 1.0) and maps the function's {statusCode, headers,
	// body, isBase64Encoded} answer to the response.
	PayloadAPIGatewayProxy
)

// Spec is a compiled aws-lambda policy. Text fields are templates, so they
// may name catalog properties ($(lambda-key-id)); nil means unset.
type Spec struct {
	Function  *assembly.Template
	Qualifier *assembly.Template
	Region    *assembly.Template
	// RoleARN, when set, is assumed through STS with the provider org's
	// ID as the external ID.
	RoleARN *assembly.Template
	// AccessKeyID and SecretAccessKey, when set, are the identity that
	// calls (Lambda, or STS when RoleARN is set too); otherwise the
	// gateway's own credential chain is.
	AccessKeyID, SecretAccessKey *assembly.Template
	// STSEndpoint and LambdaEndpoint override the SDK's endpoint
	// resolution (for emulators and tests) when they render non-empty.
	STSEndpoint, LambdaEndpoint *assembly.Template
	InvocationType              types.InvocationType
	Payload                     PayloadMode
	Timeout                     time.Duration
}

// New returns the policy that runs spec with the clients of pool.
func New(pool *Pool, spec Spec) assembly.Policy {
	if spec.InvocationType == "" {
		spec.InvocationType = types.InvocationTypeRequestResponse
	}
	if spec.Timeout <= 0 {
		spec.Timeout = 60 * time.Second
	}
	p := &policy{spec: spec, pool: pool}
	return p.run
}

type policy struct {
	spec Spec
	pool *Pool
}

// target is one call's rendered settings.
type target struct {
	function, qualifier, region string
	key                         clientKey
	secret                      string
}

// String names the function as errors and analytics show it.
func (t *target) String() string {
	if t.qualifier == "" {
		return t.function
	}
	return t.function + ":" + t.qualifier
}

func (p *policy) run(c *assembly.Context) error {
	t, err := p.target(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Ctx, p.spec.Timeout)
	defer cancel()
	cl, err := p.pool.get(ctx, t.key, t.secret)
	if err != nil {
		return err
	}
	creds, err := p.credentials(ctx, cl, t)
	if err != nil {
		return err
	}
	in, err := p.input(c, t)
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := cl.lambda.Invoke(ctx, in, signWith(creds))
	c.Backend = assembly.BackendCall{URL: "aws-lambda://" + t.region + "/" + t.String(), Method: "Invoke",
		Duration: time.Since(start)}
	if err != nil {
		e := invokeError(t, err, p.spec.Timeout)
		c.Backend.Status = e.StatusCode()
		return e
	}
	c.Backend.Status = int(out.StatusCode)
	return p.output(c, t, out)
}

// target renders the call's settings and checks that nothing required
// came out empty (a missing catalog property, typically).
func (p *policy) target(c *assembly.Context) (*target, error) {
	t := &target{
		function:  render(p.spec.Function, c),
		qualifier: render(p.spec.Qualifier, c),
		region:    render(p.spec.Region, c),
	}
	if t.function == "" || t.region == "" {
		return nil, newError(assembly.PropertyError, http.StatusInternalServerError, nil,
			"aws-lambda: function_name and aws_region must not be empty (is a property they refer to defined?)")
	}
	t.key = clientKey{region: t.region, roleARN: render(p.spec.RoleARN, c),
		stsEndpoint: render(p.spec.STSEndpoint, c), lambdaEndpoint: render(p.spec.LambdaEndpoint, c)}
	if t.key.roleARN != "" && c.API != nil {
		t.key.externalID = c.API.OrgID
	}
	if p.spec.AccessKeyID != nil {
		t.key.accessKeyID, t.secret = render(p.spec.AccessKeyID, c), render(p.spec.SecretAccessKey, c)
		if t.key.accessKeyID == "" || t.secret == "" {
			return nil, newError(CredentialsError, http.StatusInternalServerError, nil,
				"aws-lambda: aws_access_key_id or aws_secret_access_key is empty; define the catalog properties they refer to")
		}
		t.key.secretSum = sha256.Sum256([]byte(t.secret))
	}
	return t, nil
}

// credentials fetches what the call is signed with before it is made, so
// that a missing identity, an STS refusal and a Lambda refusal are told
// apart. Both providers cache: once the credentials are held this costs an
// atomic load, and the call is signed with exactly what was checked.
func (p *policy) credentials(ctx context.Context, cl *client, t *target) (aws.Credentials, error) {
	if cl.source == nil {
		return aws.Credentials{}, credentialsError(fmt.Errorf("no credential provider is configured"))
	}
	creds, err := cl.source.Retrieve(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return creds, connectionError("credentials", t.region, ctx.Err(), p.spec.Timeout)
		}
		return creds, credentialsError(err)
	}
	if t.key.roleARN == "" {
		return creds, nil
	}
	creds, err = cl.creds.Retrieve(ctx)
	if err != nil {
		return creds, assumeRoleError(t, err, p.spec.Timeout)
	}
	return creds, nil
}

// signWith makes one Invoke sign with creds.
func signWith(creds aws.Credentials) func(*lambdasvc.Options) {
	return func(o *lambdasvc.Options) { o.Credentials = fixedCredentials(creds) }
}

// fixedCredentials provides credentials already retrieved.
type fixedCredentials aws.Credentials

func (f fixedCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials(f), nil
}

// input builds the Invoke call from the message.
func (p *policy) input(c *assembly.Context, t *target) (*lambdasvc.InvokeInput, error) {
	var payload []byte
	var err error
	if p.spec.Payload == PayloadAPIGatewayProxy {
		payload, err = proxyEvent(c)
	} else {
		payload, err = bodyEvent(c.Message)
	}
	if err != nil {
		return nil, err
	}
	in := &lambdasvc.InvokeInput{FunctionName: aws.String(t.function), InvocationType: p.spec.InvocationType, Payload: payload}
	if t.qualifier != "" {
		in.Qualifier = aws.String(t.qualifier)
	}
	return in, nil
}

// output turns the function's answer into the message.
func (p *policy) output(c *assembly.Context, t *target, out *lambdasvc.InvokeOutput) error {
	if out.FunctionError != nil {
		// The error document stays readable to a catch clause.
		c.Message = resultMessage(out)
		return functionFailure(t, aws.ToString(out.FunctionError), out.Payload)
	}
	if p.spec.Payload == PayloadAPIGatewayProxy && p.spec.InvocationType == types.InvocationTypeRequestResponse {
		msg, err := proxyResult(t, out.Payload)
		if err != nil {
			return err
		}
		c.Message = msg
		return nil
	}
	c.Message = resultMessage(out)
	return nil
}

func render(t *assembly.Template, c *assembly.Context) string {
	if t == nil {
		return ""
	}
	return strings.TrimSpace(t.Render(c))
}
