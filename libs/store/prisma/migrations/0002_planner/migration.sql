-- CreateTable
CREATE TABLE "Model" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "modelId" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "storagePath" TEXT NOT NULL,
    "datasetId" TEXT,
    "inputName" TEXT NOT NULL,
    "inputDims" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ModelVersion_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "LayerOption" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "modelVersionId" TEXT NOT NULL,
    "layer" TEXT NOT NULL,
    "option" TEXT NOT NULL,
    "weightBytes" BIGINT NOT NULL,
    "flops" REAL NOT NULL,
    "accuracy" REAL,
    CONSTRAINT "LayerOption_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Measurement" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "deviceId" TEXT NOT NULL,
    "deviceClassId" TEXT NOT NULL,
    "modelVersionId" TEXT NOT NULL,
    "layerOptionId" TEXT,
    "kind" TEXT NOT NULL,
    "jobId" TEXT,
    "medianMs" REAL,
    "p95Ms" REAL,
    "p99Ms" REAL,
    "meanMs" REAL,
    "cv" REAL,
    "runs" INTEGER,
    "residentBytes" BIGINT,
    "weightBytes" BIGINT,
    "artifactBytes" BIGINT,
    "contextJson" TEXT NOT NULL,
    "measuredAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Measurement_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Measurement_deviceClassId_fkey" FOREIGN KEY ("deviceClassId") REFERENCES "DeviceClass" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Measurement_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Measurement_layerOptionId_fkey" FOREIGN KEY ("layerOptionId") REFERENCES "LayerOption" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ReportBatch" (
    "batchId" TEXT NOT NULL PRIMARY KEY,
    "deviceId" TEXT NOT NULL,
    "receivedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ReportBatch_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Policy" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "deviceClassId" TEXT,
    "deviceId" TEXT,
    "totalLatencyBoundMs" REAL,
    "latencyPercentile" REAL NOT NULL DEFAULT 95,
    "memoryBoundBytes" BIGINT,
    "storageBoundBytes" BIGINT,
    "accuracyFloor" REAL,
    "latencyMargin" REAL NOT NULL DEFAULT 1,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Policy_deviceClassId_fkey" FOREIGN KEY ("deviceClassId") REFERENCES "DeviceClass" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Policy_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PolicyModel" (
    "policyId" TEXT NOT NULL,
    "modelId" TEXT NOT NULL,
    "latencyBoundMs" REAL,

    PRIMARY KEY ("policyId", "modelId"),
    CONSTRAINT "PolicyModel_policyId_fkey" FOREIGN KEY ("policyId") REFERENCES "Policy" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "PolicyModel_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Plan" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "policyId" TEXT NOT NULL,
    "deviceClassId" TEXT NOT NULL,
    "round" INTEGER NOT NULL DEFAULT 1,
    "choicesJson" TEXT NOT NULL,
    "predictedJson" TEXT NOT NULL,
    "measuredJson" TEXT,
    "method" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Plan_policyId_fkey" FOREIGN KEY ("policyId") REFERENCES "Policy" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Plan_deviceClassId_fkey" FOREIGN KEY ("deviceClassId") REFERENCES "DeviceClass" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Artifact" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sha256" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "storagePath" TEXT NOT NULL,
    "modelVersionId" TEXT NOT NULL,
    "planId" TEXT NOT NULL,
    "ladderStep" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Artifact_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Artifact_planId_fkey" FOREIGN KEY ("planId") REFERENCES "Plan" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Deployment" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "planId" TEXT NOT NULL,
    "deviceId" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "measuredJson" TEXT,
    "detail" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Deployment_planId_fkey" FOREIGN KEY ("planId") REFERENCES "Plan" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Deployment_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Event" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "deviceId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "deploymentId" TEXT,
    "detail" TEXT NOT NULL,
    "observed" REAL,
    "bound" REAL,
    "artifactSha256" TEXT,
    "at" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Event_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "deviceId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "payload" BLOB NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Job_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "Model_name_key" ON "Model"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_sha256_key" ON "ModelVersion"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "LayerOption_modelVersionId_layer_option_key" ON "LayerOption"("modelVersionId", "layer", "option");

-- CreateIndex
CREATE INDEX "Measurement_deviceClassId_layerOptionId_idx" ON "Measurement"("deviceClassId", "layerOptionId");

-- CreateIndex
CREATE INDEX "Measurement_deviceClassId_modelVersionId_kind_idx" ON "Measurement"("deviceClassId", "modelVersionId", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "Policy_deviceClassId_key" ON "Policy"("deviceClassId");

-- CreateIndex
CREATE UNIQUE INDEX "Policy_deviceId_key" ON "Policy"("deviceId");

-- CreateIndex
CREATE UNIQUE INDEX "Artifact_sha256_key" ON "Artifact"("sha256");

-- CreateIndex
CREATE INDEX "Deployment_deviceId_state_idx" ON "Deployment"("deviceId", "state");

-- CreateIndex
CREATE INDEX "Event_deviceId_at_idx" ON "Event"("deviceId", "at");

-- CreateIndex
CREATE INDEX "Job_deviceId_state_idx" ON "Job"("deviceId", "state");

