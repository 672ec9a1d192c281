package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ocpro/upgrade/infra/template"
)

// Region is the region the local clients sign for. DynamoDB Local keeps a
// separate database per access key and region, so every client of one
// server must agree on both.
const Region = "eu-west-1"

// Dummy credentials: DynamoDB Local checks that requests are signed, not by
// whom. They are the same for every client so that all see the same tables.
const (
	accessKeyID     = "local"
	secretAccessKey = "local"
)

// tableActiveTimeout bounds the wait for a new table to become ACTIVE, which
// DynamoDB Local does at once.
const tableActiveTimeout = 30 * time.Second

// NewClient returns a DynamoDB client for the DynamoDB Local at endpoint,
// signing with fixed dummy credentials in Region. Shared config files and
// the environment's credentials are not consulted, so a developer's real AWS
// profile is never used against the emulator, nor the other way round.
func NewClient(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	cfg, err := localConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		// DynamoDB Local's CRC32 headers do not always match its bodies; the
		// SDK would log a warning for each such response. Only here: a
		// client for the real service keeps the check.
		o.DisableValidateResponseChecksum = true
	}), nil
}

// NewStreamsClient returns a DynamoDB Streams client for the DynamoDB Local
// at endpoint, signing like NewClient, so that it sees the same tables'
// streams.
func NewStreamsClient(ctx context.Context, endpoint string) (*dynamodbstreams.Client, error) {
	cfg, err := localConfig(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}), nil
}

// localConfig is the SDK configuration of both clients: the emulator's
// region and dummy credentials, and no shared config files.
func localConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	if endpoint == "" {
		return aws.Config{}, errors.New("dynamolocal: no endpoint")
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("dynamolocal: client config: %w", err)
	}
	return cfg, nil
}

// CreateTables creates every table of the template, named by name (nil keeps
// each table's template name), with its keys, global secondary indexes and
// stream, billed per request, and turns on its TTL attribute. A table that already
// exists is left as it is, so calling CreateTables again is harmless. It
// returns once every table is ACTIVE.
func CreateTables(ctx context.Context, client *dynamodb.Client, tables []template.Table, name func(logicalID string) string) error {
	if client == nil {
		return errors.New("dynamolocal: CreateTables: nil client")
	}
	for _, t := range tables {
		tableName := t.Name
		if name != nil {
			tableName = name(t.LogicalID)
		}
		if err := createTable(ctx, client, t, tableName); err != nil {
			return fmt.Errorf("dynamolocal: table %s (%s): %w", t.LogicalID, tableName, err)
		}
	}
	return nil
}

func createTable(ctx context.Context, client *dynamodb.Client, t template.Table, tableName string) error {
	in, err := createTableInput(t, tableName)
	if err != nil {
		return err
	}
	_, err = client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create: %w", err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)}, tableActiveTimeout); err != nil {
		return fmt.Errorf("waiting for ACTIVE: %w", err)
	}
	if t.StreamViewType != "" {
		if err := enableStream(ctx, client, tableName, t.StreamViewType); err != nil {
			return err
		}
	}
	if t.TTLAttribute == "" {
		return nil
	}
	return enableTTL(ctx, client, tableName, t.TTLAttribute)
}

// enableStream turns the table's stream on when a table that already
// existed has none, as CloudFormation's update would; a table created here
// has it from CreateTable. A stream of another view type is an error: it
// cannot be changed without a new stream.
func enableStream(ctx context.Context, client *dynamodb.Client, tableName, viewType string) error {
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if spec := desc.Table.StreamSpecification; spec != nil && aws.ToBool(spec.StreamEnabled) {
		if string(spec.StreamViewType) != viewType {
			return fmt.Errorf("the stream's view type is %s, want %s", spec.StreamViewType, viewType)
		}
		return nil
	}
	_, err = client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName: aws.String(tableName),
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(viewType),
		},
	})
	if err != nil {
		return fmt.Errorf("enable the stream: %w", err)
	}
	return nil
}

// createTableInput maps a template table to the CreateTable call that
// CloudFormation would make for it.
func createTableInput(t template.Table, tableName string) (*dynamodb.CreateTableInput, error) {
	if tableName == "" {
		return nil, errors.New("no table name")
	}
	if len(t.Key) == 0 {
		return nil, errors.New("no key schema")
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(tableName),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(t.Key),
	}
	if t.StreamViewType != "" {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(t.StreamViewType),
		}
	}
	for _, a := range t.Attributes {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.Name),
			AttributeType: types.ScalarAttributeType(a.Type),
		})
	}
	for _, ix := range t.Indexes {
		if ix.ProjectionType == string(types.ProjectionTypeInclude) {
			// The template reader does not carry NonKeyAttributes.
			return nil, fmt.Errorf("index %s: projection INCLUDE is not supported locally", ix.Name)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  keySchema(ix.Key),
			Projection: &types.Projection{ProjectionType: types.ProjectionType(ix.ProjectionType)},
		})
	}
	return in, nil
}

func keySchema(ks []template.KeyElement) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, types.KeySchemaElement{
			AttributeName: aws.String(k.Name),
			KeyType:       types.KeyType(k.KeyType),
		})
	}
	return out
}

// enableTTL turns TTL on for attr unless it already is: UpdateTimeToLive
// rejects a request that changes nothing.
func enableTTL(ctx context.Context, client *dynamodb.Client, tableName, attr string) error {
	desc, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tableName)})
	if err != nil {
		return fmt.Errorf("describe TTL: %w", err)
	}
	if d := desc.TimeToLiveDescription; d != nil && d.TimeToLiveStatus == types.TimeToLiveStatusEnabled {
		if aws.ToString(d.AttributeName) == attr {
			return nil
		}
		return fmt.Errorf("TTL is already on attribute %q, want %q", aws.ToString(d.AttributeName), attr)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(tableName),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", attr, err)
	}
	return nil
}
