-- What the planner derives from an uploaded model: the parts of its cost outside the approximable
-- layers, and the state of its accuracy model.
ALTER TABLE "ModelVersion" ADD COLUMN "activationPeakBytes" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "ModelVersion" ADD COLUMN "otherWeightBytes" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "ModelVersion" ADD COLUMN "accuracyState" TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE "ModelVersion" ADD COLUMN "accuracyDetail" TEXT;
ALTER TABLE "ModelVersion" ADD COLUMN "calibrationAccuracy" REAL;
ALTER TABLE "ModelVersion" ADD COLUMN "heldOutAccuracy" REAL;
ALTER TABLE "LayerOption" ADD COLUMN "shrinksJson" TEXT NOT NULL DEFAULT '[]';
ALTER TABLE "PolicyModel" ADD COLUMN "position" INTEGER NOT NULL DEFAULT 0;
