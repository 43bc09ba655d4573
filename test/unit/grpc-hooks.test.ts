/** The route table's hooks (services/grpc/hooks.ts) on the real campaign protos. */
import { ProtoCodec } from "../../services/grpc/codec";
import { campaignWatch, clearFields } from "../../services/grpc/hooks";
import { loadProtos } from "../../services/grpc/proto";
import { FIELD_ALIASES, PROTO_FILES } from "../../services/grpc/routes";

const codec = new ProtoCodec(loadProtos(PROTO_FILES), FIELD_ALIASES);
const tools = { codec, requestType: "marketing.v1.UpdateCampaignRequest" };

describe("clearFields", () => {
  const clear = clearFields();

  it("resets each named field to its kind's empty value", () => {
    const params = clear({ id: "c1", name: "kept", clearFields: ["description", "platforms", "content", "budget", "is_ab_test"] }, tools);
    expect(params).toEqual({ id: "c1", name: "kept", description: null, platforms: [], content: {}, budget: null, isABTest: null });
  });

  it("leaves params alone without a list", () => {
    expect(clear({ id: "c1", name: "x" }, tools)).toEqual({ id: "c1", name: "x" });
  });

  it("refuses unknown fields, the list itself, and fields that are also set", () => {
    expect(() => clear({ id: "c1", budget: 3, clearFields: ["nope", "clear_fields", "budget"] }, tools)).toThrow(
      expect.objectContaining({
        code: 422,
        data: [
          expect.objectContaining({ field: "clearFields[0]" }),
          expect.objectContaining({ field: "clearFields[1]" }),
          expect.objectContaining({ field: "clearFields[2]", message: "The field 'budget' is both set and cleared." }),
        ],
      }),
    );
  });
});

describe("campaignWatch", () => {
  const watchTools = { codec, requestType: "marketing.v1.GetCampaignRequest" };
  const params = { id: "c1" };

  it("starts with the current campaign", () => {
    expect(campaignWatch.first({ id: "c1" })).toEqual({ current: { id: "c1" } });
  });

  it("passes updates of the watched campaign with the proto names of the changed fields", () => {
    const event = { name: "campaigns.campaign.updated", payload: { campaign: { id: "c1", name: "n" }, changed: ["name", "segmentIds", "isABTest"] } };
    expect(campaignWatch.next(event, params, watchTools)).toEqual({
      message: { updated: { campaign: { id: "c1", name: "n" }, changed: ["name", "segment_ids", "is_ab_test"] } },
    });
  });

  it("ignores other campaigns", () => {
    expect(campaignWatch.next({ name: "campaigns.campaign.updated", payload: { campaign: { id: "c2" }, changed: [] } }, params, watchTools)).toBeUndefined();
    expect(campaignWatch.next({ name: "campaigns.campaign.deleted", payload: { id: "c2", ownerId: "u" } }, params, watchTools)).toBeUndefined();
  });

  it("ends with the deletion", () => {
    expect(campaignWatch.next({ name: "campaigns.campaign.deleted", payload: { id: "c1", ownerId: "u" } }, params, watchTools)).toEqual({
      message: { deleted: { id: "c1" } },
      last: true,
    });
  });
});
