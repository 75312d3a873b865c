import { transportCompliance } from './compliance.ts';
import { memoryFactory } from './pairs.ts';

transportCompliance('memory', memoryFactory);
