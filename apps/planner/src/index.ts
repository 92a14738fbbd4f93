export { AgentServiceImpl, type AgentServiceOptions, CHUNK_BYTES } from './agent-service';
export { type PlannerConfig, parsePlannerConfig } from './config';
export { Planner } from './planner';
