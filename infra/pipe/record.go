package pipe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// event is a stream record as a pipe (and a Lambda event source mapping)
// hands it on: the fields of GetRecords with the attribute values in
// DynamoDB's JSON, plus the stream's ARN. Filters match it and templates
// read it.
type event struct {
	EventID        string         `json:"eventID"`
	EventName      string         `json:"eventName"`
	EventVersion   string         `json:"eventVersion"`
	EventSource    string         `json:"eventSource"`
	AWSRegion      string         `json:"awsRegion"`
	Dynamodb       streamRecord   `json:"dynamodb"`
	EventSourceARN string         `json:"eventSourceARN"`
	UserIdentity   map[string]any `json:"userIdentity,omitempty"`
}

type streamRecord struct {
	ApproximateCreationDateTime int64          `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        map[string]any `json:"Keys,omitempty"`
	NewImage                    map[string]any `json:"NewImage,omitempty"`
	OldImage                    map[string]any `json:"OldImage,omitempty"`
	SequenceNumber              string         `json:"SequenceNumber"`
	SizeBytes                   int64          `json:"SizeBytes"`
	StreamViewType              string         `json:"StreamViewType"`
}

// encodeRecord turns one GetRecords record into the JSON the pipe filters
// and transforms. region replaces the record's own: DynamoDB Local names
// itself ("ddblocal") where AWS names the table's region.
func encodeRecord(r types.Record, streamARN, region string) ([]byte, error) {
	e := event{
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSource:    aws.ToString(r.EventSource),
		AWSRegion:      region,
		EventSourceARN: streamARN,
	}
	if id := r.UserIdentity; id != nil {
		e.UserIdentity = map[string]any{"type": aws.ToString(id.Type), "principalId": aws.ToString(id.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		var err error
		e.Dynamodb = streamRecord{
			SequenceNumber: aws.ToString(d.SequenceNumber),
			SizeBytes:      aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			e.Dynamodb.ApproximateCreationDateTime = d.ApproximateCreationDateTime.Unix()
		}
		if e.Dynamodb.Keys, err = encodeItem(d.Keys); err != nil {
			return nil, err
		}
		if e.Dynamodb.NewImage, err = encodeItem(d.NewImage); err != nil {
			return nil, err
		}
		if e.Dynamodb.OldImage, err = encodeItem(d.OldImage); err != nil {
			return nil, err
		}
	}
	return json.Marshal(e)
}

func encodeItem(item map[string]types.AttributeValue) (map[string]any, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]any, len(item))
	for k, v := range item {
		ev, err := encodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = ev
	}
	return out, nil
}

// encodeValue writes an attribute value in DynamoDB's JSON: numbers as
// strings, binary as base64.
func encodeValue(v types.AttributeValue) (any, error) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": x.Value}, nil
	case *types.AttributeValueMemberN:
		return map[string]any{"N": x.Value}, nil
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(x.Value)}, nil
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": x.Value}, nil
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": x.Value}, nil
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": x.Value}, nil
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": x.Value}, nil
	case *types.AttributeValueMemberBS:
		l := make([]string, len(x.Value))
		for i, b := range x.Value {
			l[i] = base64.StdEncoding.EncodeToString(b)
		}
		return map[string]any{"BS": l}, nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(x.Value))
		for i, e := range x.Value {
			ev, err := encodeValue(e)
			if err != nil {
				return nil, err
			}
			l[i] = ev
		}
		return map[string]any{"L": l}, nil
	case *types.AttributeValueMemberM:
		m, err := encodeItem(x.Value)
		if err != nil {
			return nil, err
		}
		return map[string]any{"M": m}, nil
	}
	return nil, fmt.Errorf("unknown attribute value %T", v)
}
