-- Deployments per (plan, device, model); figures a device measures on a deployed artifact keep
-- a link to it, so that they never mix with the original model's figures in the cost model.
ALTER TABLE "Measurement" ADD COLUMN "artifactId" TEXT REFERENCES "Artifact" ("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX "Measurement_jobId_idx" ON "Measurement"("jobId");
ALTER TABLE "Deployment" ADD COLUMN "model" TEXT NOT NULL DEFAULT '';
ALTER TABLE "Plan" ADD COLUMN "ladderJson" TEXT NOT NULL DEFAULT '{}';
CREATE INDEX "Deployment_planId_idx" ON "Deployment"("planId");
