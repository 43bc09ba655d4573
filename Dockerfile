# One image for every service; SERVICES picks what a container hosts.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
EXPOSE 3000 50051
CMD ["npm", "start"]
