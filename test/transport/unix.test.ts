import { transportCompliance } from './compliance.ts';
import { unixFactory } from './pairs.ts';

transportCompliance('unix', unixFactory);
